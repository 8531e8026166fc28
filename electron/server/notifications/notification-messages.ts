import { formatBytes } from '../../../common/format.js';
import type { DailyReport } from '../../../common/api/notifications.js';
import type { PolicyRun } from '../../../common/api/policies.js';
import type { Task } from '../../../common/api/tasks.js';
import type { WorkflowRow } from './notifications.repository.js';

/** One event, written for people (e-mail) and for programs (the webhook's JSON). */
export interface ComposedMessage {
  event: string;
  subject: string;
  text: string;
  payload: Record<string, unknown>;
}

export interface MessageContext {
  /** The server's host name, so mail from several servers can be told apart. */
  server: string;
  timeZone: string;
  now: Date;
}

/** "2026-11-25 22:00" in the given zone. */
export function formatInZone(at: Date | string, timeZone: string, seconds = false): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
    hourCycle: 'h23',
  }).formatToParts(typeof at === 'string' ? new Date(at) : at);
  const p = (type: Intl.DateTimeFormatPartTypes): string => parts.find((x) => x.type === type)?.value ?? '';
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}${seconds ? `:${p('second')}` : ''}`;
}

const titleCase = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();

function table(rows: [string, string | null | undefined][]): string {
  const shown = rows.filter((r): r is [string, string] => r[1] !== null && r[1] !== undefined && r[1] !== '');
  const width = Math.max(...shown.map(([k]) => k.length)) + 2;
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
}

/** What a webhook gets of a task: no params or results (they are for nodes, not for chat rooms). */
function taskSummary(task: Task): Record<string, unknown> {
  return {
    id: task.id,
    type: task.type,
    state: task.state,
    subject: task.subject,
    node: task.node,
    workflowId: task.workflowId,
    error: task.error,
    warnings: task.warnings,
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    createdBy: task.createdBy,
    createdAt: task.createdAt,
    startedAt: task.startedAt,
    finishedAt: task.finishedAt,
  };
}

function envelope(event: string, text: string, ctx: MessageContext, rest: Record<string, unknown>): Record<string, unknown> {
  // `text` first: Slack, Mattermost and Rocket.Chat incoming webhooks show it as is.
  return { text, event, server: ctx.server, sentAt: ctx.now.toISOString(), ...rest };
}

export function taskFailedMessage(task: Task, workflow: WorkflowRow | undefined, problems: { level: string; message: string }[], ctx: MessageContext): ComposedMessage {
  const subject = task.subject ?? workflow?.subject ?? null;
  const what = workflow ? `${titleCase(workflow.type)}` : `${task.type} task`;
  const headline = `${what}${subject ? ` of ${subject}` : ` ${task.id}`} failed`;
  const zone = (at: string | null): string | null => (at ? `${formatInZone(at, ctx.timeZone, true)} (${ctx.timeZone})` : null);
  const details = table([
    ['What', workflow ? `${workflow.type} workflow ${workflow.id}, step ${task.type} (task ${task.id})` : `${task.type} task ${task.id}`],
    ['Subject', subject],
    ['Node', task.node],
    ['Error', task.error ?? 'no error message'],
    ['Attempts', `${task.attempt} of ${task.maxAttempts}`],
    ['Started', zone(task.startedAt)],
    ['Ended', zone(task.finishedAt)],
    ['Started by', task.createdBy],
  ]);
  const log = problems.length ? `\n\nLast warnings and errors in its log:\n${problems.map((l) => `  [${l.level}] ${l.message}`).join('\n')}` : '';
  const text = `vPlus server ${ctx.server}: ${headline}.\n\n${details}${log}\n\nIn the vPlus console: Tasks → task ${task.id}.\n`;
  const summary = `${headline}: ${task.error ?? 'no error message'}`;
  return {
    event: 'task.failed',
    subject: `[vPlus] ${headline}`,
    text,
    payload: envelope('task.failed', summary, ctx, {
      task: taskSummary(task),
      workflow: workflow ? { id: workflow.id, type: workflow.type, subject: workflow.subject } : null,
    }),
  };
}

export function policyRunMessage(kind: 'policy.missed' | 'policy.failed', run: PolicyRun, ctx: MessageContext): ComposedMessage {
  const when = run.scheduledFor ? formatInZone(run.scheduledFor, ctx.timeZone) : null;
  let headline: string;
  let explanation: string;
  if (kind === 'policy.missed') {
    headline = `Policy "${run.policy}" missed its run${when ? ` of ${when}` : ''}`;
    explanation = run.message ?? 'the run could not start inside its window (the server was down or the policy was disabled)';
  } else {
    const outcome = run.state === 'finished_with_warnings' ? 'finished with warnings' : run.state === 'failed' ? 'failed' : run.state.replaceAll('_', ' ');
    headline = `Policy "${run.policy}" run ${outcome}${run.vms ? `: ${run.failed} of ${run.vms} VMs failed` : ''}`;
    explanation = run.message ?? '';
  }
  const details = table([
    ['Policy', run.policy],
    ['Run', `${run.id} (${run.trigger}${run.backupType ? `, ${run.backupType}` : ''})`],
    ['Scheduled for', when ? `${when} (${ctx.timeZone})` : null],
    ['State', run.state],
    ['VMs', run.vms ? `${run.vms}: ${run.succeeded} succeeded, ${run.failed} failed, ${run.cancelled} cancelled` : null],
    ['Reason', explanation],
  ]);
  const text = `vPlus server ${ctx.server}: ${headline}.\n\n${details}\n\nIn the vPlus console: Policies → ${run.policy}.\n`;
  return {
    event: kind,
    subject: `[vPlus] ${headline}`,
    text,
    payload: envelope(kind, explanation ? `${headline}: ${explanation}` : headline, ctx, { run }),
  };
}

export function dailyReportMessage(report: DailyReport, ctx: MessageContext): ComposedMessage {
  const b = report.backups;
  const p = report.policyRuns;
  const day = formatInZone(report.to, ctx.timeZone).slice(0, 10);
  const headline = `${b.succeeded} backups done, ${b.failed} failed, ${p.missed} missed`;
  const sections: string[] = [
    `vPlus daily report for ${ctx.server}\nPeriod: ${formatInZone(report.from, ctx.timeZone)} – ${formatInZone(report.to, ctx.timeZone)} (${ctx.timeZone})`,
    `Backups\n${indent(
      table([
        ['Done', `${b.succeeded}${b.withWarnings ? ` (${b.withWarnings} with warnings)` : ''}`],
        ['Failed', String(b.failed)],
        ['Cancelled', String(b.cancelled)],
        ['Missed runs', String(p.missed)],
      ]),
    )}`,
  ];
  if (b.failures.length) {
    sections.push(
      `Failed backups\n${b.failures
        .map((f) => `  - ${f.subject ?? 'backup'} (${f.workflowId !== null ? `workflow ${f.workflowId}, ` : ''}task ${f.taskId ?? '?'}, ${formatInZone(f.at, ctx.timeZone)}): ${f.error ?? 'no error message'}`)
        .join('\n')}`,
    );
  }
  if (p.missedRuns.length) {
    sections.push(
      `Missed policy runs\n${p.missedRuns.map((r) => `  - ${r.policy}${r.scheduledFor ? `, scheduled ${formatInZone(r.scheduledFor, ctx.timeZone)}` : ''}${r.message ? `: ${r.message}` : ''}`).join('\n')}`,
    );
  }
  sections.push(`Policy runs: ${p.finished} finished, ${p.failed} failed, ${p.missed} missed`);
  if (report.otherFailedTasks.length) {
    sections.push(
      `Other failed tasks\n${report.otherFailedTasks.map((t) => `  - ${t.type} task ${t.taskId}${t.subject ? ` for ${t.subject}` : ''}: ${t.error ?? 'no error message'}`).join('\n')}`,
    );
  }
  sections.push(
    `Space used\n${
      report.destinations.length
        ? report.destinations
            .map((d) => {
              const change = d.storedChangeBytes === null ? '' : ` (${d.storedChangeBytes >= 0 ? '+' : '-'}${formatBytes(Math.abs(d.storedChangeBytes))} in 24 h)`;
              const free = d.freeBytes !== null && d.totalBytes !== null ? `; ${formatBytes(d.freeBytes)} free of ${formatBytes(d.totalBytes)}` : '';
              return `  - ${d.name}: ${formatBytes(d.storedBytes)} stored${change}, ${formatBytes(d.logicalBytes)} of data in ${d.backups} backups${free}${d.status === 'error' ? ' [ERROR]' : ''}`;
            })
            .join('\n')
        : '  no destinations'
    }`,
  );
  const text = `${sections.join('\n\n')}\n`;
  return {
    event: 'report.daily',
    subject: `[vPlus] Daily report ${day}: ${headline}`,
    text,
    payload: envelope('report.daily', `Daily report ${day}: ${headline}`, ctx, { report }),
  };
}

export function testMessage(by: string, ctx: MessageContext): ComposedMessage {
  const text = `This is a test from the vPlus server ${ctx.server}, sent by ${by} at ${formatInZone(ctx.now, ctx.timeZone, true)} (${ctx.timeZone}).\nIf you can read it, notifications reach you.\n`;
  return { event: 'test', subject: `[vPlus] Test message from ${ctx.server}`, text, payload: envelope('test', `Test message from vPlus server ${ctx.server}, sent by ${by}`, ctx, {}) };
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
