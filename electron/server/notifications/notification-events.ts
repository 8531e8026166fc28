/**
 * What the rest of the server tells the notifications service. The service decides, by the
 * admin's rules, which channel (e-mail, webhook) and which recipients get each event.
 */
import type { PolicyRun } from '../../../common/api/policies.js';
import type { Task } from '../../../common/api/tasks.js';

export type NotificationEvent =
  /** A task (or the whole workflow it ended) failed. Sent once per workflow. */
  | { kind: 'task.failed'; task: Task }
  /** A scheduled policy run could not start inside its window (server down, policy disabled…). */
  | { kind: 'policy.missed'; run: PolicyRun }
  /** A policy run ended with failures (state failed or finished_with_warnings). */
  | { kind: 'policy.failed'; run: PolicyRun };

export type NotificationEventKind = NotificationEvent['kind'] | 'report.daily';
