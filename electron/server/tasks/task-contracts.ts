/**
 * The server's side of the task registry (common/task-contracts.ts): params are checked when
 * a task is created, results when it ends, and the rest of the server listens to finished
 * tasks by type with typed params and results, and adds dispatch-time params by type.
 */
import type { Logger } from 'pino';
import type { Task, TaskType } from '../../../common/api/tasks.js';
import { firstIssue, TASK_CONTRACTS, type TaskParamsOf, type TaskResultOf } from '../../../common/task-contracts.js';
import type { Outcome } from './task-engine.service.js';

/** A task created with params its contract refuses: a bug in the server, reported as such. */
export class TaskParamsError extends Error {
  constructor(type: TaskType, issue: string) {
    super(`the server built a ${type} task with invalid parameters (${issue}); this is a server bug, please report it`);
    this.name = 'TaskParamsError';
  }
}

export function checkParams(type: TaskType, params: Record<string, unknown>, maxAttempts = 1): void {
  const parsed = TASK_CONTRACTS[type].params.safeParse(params);
  if (!parsed.success) throw new TaskParamsError(type, firstIssue(parsed.error));
  if (maxAttempts > 1 && !TASK_CONTRACTS[type].retry) throw new TaskParamsError(type, `a ${type} task must not be retried, but ${maxAttempts} attempts were asked`);
}

/**
 * A result of the wrong shape never reaches the catalog's listeners: a task that would have
 * finished fails with the reason (typically a node of another version); a failed one keeps
 * its error and loses only the result.
 */
export function checkOutcome(type: TaskType, outcome: Outcome): Outcome {
  if (!outcome.result) return outcome;
  const parsed = TASK_CONTRACTS[type].result.safeParse(outcome.result);
  if (parsed.success) return outcome;
  const why = `the ${type} result does not have the shape this server expects (${firstIssue(parsed.error)}); is the node's version the server's? Upgrade the node`;
  if (outcome.state === 'FAILED' || outcome.state === 'CANCELLED') return { ...outcome, result: null, warnings: [...(outcome.warnings ?? []), why] };
  return { state: 'FAILED', error: why, warnings: outcome.warnings ?? [], result: null };
}

type Typed<T extends TaskType> = (task: Task, params: TaskParamsOf<T>, result: TaskResultOf<T> | null) => Promise<void>;
type DispatchParams<T extends TaskType> = (task: Task, params: TaskParamsOf<T>) => Promise<Record<string, unknown>>;

export class TaskListeners {
  private readonly any: ((task: Task) => Promise<void>)[] = [];
  private readonly finished = new Map<TaskType, ((task: Task) => Promise<void>)[]>();
  private readonly dispatch = new Map<TaskType, ((task: Task) => Promise<Record<string, unknown>>)[]>();

  constructor(private readonly logger: Logger) {}

  onAny(listener: (task: Task) => Promise<void>): void {
    this.any.push(listener);
  }

  on<T extends TaskType>(types: T | readonly T[], listener: Typed<T>): void {
    for (const type of typeof types === 'string' ? [types] : types) {
      const list = this.finished.get(type) ?? [];
      list.push(async (task) => {
        const params = this.parsed(task, 'params', task.params);
        if (params === undefined) return;
        const result = task.result ? (this.parsed(task, 'result', task.result) ?? null) : null;
        await listener(task, params as TaskParamsOf<T>, result as TaskResultOf<T> | null);
      });
      this.finished.set(type, list);
    }
  }

  onDispatch<T extends TaskType>(types: T | readonly T[], provide: DispatchParams<T>): void {
    for (const type of typeof types === 'string' ? [types] : types) {
      const list = this.dispatch.get(type) ?? [];
      list.push(async (task) => {
        const params = this.parsed(task, 'params', task.params);
        return params === undefined ? {} : provide(task, params as TaskParamsOf<T>);
      });
      this.dispatch.set(type, list);
    }
  }

  async dispatchParams(task: Task): Promise<Record<string, unknown>> {
    let extra: Record<string, unknown> = {};
    for (const provide of this.dispatch.get(task.type) ?? []) extra = { ...extra, ...(await provide(task)) };
    return extra;
  }

  /** The listeners of the task's type: they record what the task changed (a backup, verify's findings). */
  async emitTyped(task: Task): Promise<void> {
    await this.emit(task, this.finished.get(task.type) ?? []);
  }

  /** The listeners of every task (policy runs, notifications): they follow from the task's end and its effects. */
  async emitAny(task: Task): Promise<void> {
    await this.emit(task, this.any);
  }

  async emitFinished(task: Task): Promise<void> {
    await this.emitTyped(task);
    await this.emitAny(task);
  }

  private async emit(task: Task, listeners: readonly ((task: Task) => Promise<void>)[]): Promise<void> {
    for (const listener of listeners) {
      await listener(task).catch((err: unknown) => this.logger.error({ err, taskId: task.id, type: task.type }, 'a task-finished listener failed'));
    }
  }

  private parsed(task: Task, what: 'params' | 'result', value: unknown): unknown {
    const parsed = TASK_CONTRACTS[task.type][what].safeParse(value);
    if (parsed.success) return parsed.data;
    this.logger.warn({ taskId: task.id, type: task.type, issue: firstIssue(parsed.error) }, `a ${task.type} task's ${what} do not fit its contract; its listeners skip it`);
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A repository's params without its password and (S3) its secret key. */
function redactRepository(repository: Record<string, unknown>): Record<string, unknown> {
  const { password: _password, ...rest } = repository;
  void _password;
  if (!isRecord(rest.s3)) return rest;
  const { secretAccessKey: _secret, ...s3 } = rest.s3;
  void _secret;
  return { ...rest, s3 };
}

/**
 * Params as recorded in the task: a destination's password and S3 secret key (in `repository`,
 * and in a COPY's `source` and `target`), and a Microsoft 365 tenant's client secret or
 * private key (only the credential's kind stays), never go into the catalog.
 */
export function redactSecrets(params: Record<string, unknown>): Record<string, unknown> {
  let out = params;
  for (const key of ['repository', 'source', 'target'] as const) {
    const value = out[key];
    if (isRecord(value) && (key === 'repository' || 'path' in value || 's3' in value)) out = { ...out, [key]: redactRepository(value) };
  }
  if (isRecord(out.tenant) && isRecord(out.tenant.credential)) out = { ...out, tenant: { ...out.tenant, credential: { kind: out.tenant.credential.kind } } };
  return out;
}
