import { InvalidArgumentError, type Command } from 'commander';
import {
  TASK_STATES,
  TASK_TYPES,
  isFinalState,
  type Task,
  type TaskDetails,
  type TaskLogLine,
  type TaskState,
  type TaskType,
} from '../../common/api/index.js';
import type { ApiClient } from '../client/api-client.js';
import { withClient } from '../client/session.js';
import type { CliContext } from '../context.js';
import { formatBytes, formatDateTime, formatDuration, formatRate, formatTable, formatTimestamp } from '../format.js';
import { dateOption, nextPageNote } from '../list-options.js';
import { Output, formatFields } from '../output.js';

/** Log lines read per request by task log. */
const LOG_PAGE = 5000;
import { describeTask, waitForTask } from '../task-follower.js';
import { formatTaskResult } from '../task-results.js';

interface TaskListOptions {
  json?: boolean;
  state?: TaskState;
  type?: TaskType;
  node?: string;
  subject?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export function registerTaskCommands(program: Command, ctx: CliContext): void {
  const task = program.command('task').description('follow and cancel the work the server and nodes do');

  task
    .command('list')
    .description('list tasks, newest first')
    .option('--json', 'print JSON only')
    .option('--state <state>', `only tasks in this state (${TASK_STATES.join(', ')})`, choiceParser('state', TASK_STATES))
    .option('--type <type>', `only tasks of this type (${TASK_TYPES.join(', ')})`, choiceParser('type', TASK_TYPES))
    .option('--node <node>', 'only tasks of this node (name or id)')
    .option('--subject <subject>', 'only tasks about this, e.g. vm:web-1 or destination:nas')
    .option('--since <date>', 'only tasks created then or later (2026-12-01, or a time)', dateOption('--since'))
    .option('--until <date>', 'only tasks created before then', dateOption('--until'))
    .option('--limit <n>', 'at most this many tasks, 1 to 500 (default: 100)', intParser('--limit', 1, 500))
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .action((options: TaskListOptions) => listTasks(ctx, options));

  task
    .command('log')
    .description("print a task's whole log, oldest line first (task show prints the last 1000 lines)")
    .argument('<id>', 'task id', parseTaskId)
    .option('--json', 'print JSON only (an array of lines)')
    .action((id: number, options: { json?: boolean }) => printTaskLog(ctx, id, options));

  task
    .command('show')
    .description('show a task with its log')
    .argument('<id>', 'task id', parseTaskId)
    .option('--json', 'print JSON only')
    .action((id: number, options: { json?: boolean }) => showTask(ctx, id, options));

  task
    .command('wait')
    .description('follow a task until it ends; exit 1 when it failed or was cancelled')
    .argument('<id>', 'task id', parseTaskId)
    .action((id: number) => withClient(ctx, async (client) => void (await waitForTask(ctx, client, id))));

  task
    .command('cancel')
    .description('cancel a task: it is asked to stop; a second cancel, or --force, ends it at once')
    .argument('<id>', 'task id', parseTaskId)
    .option('--force', 'end the task now instead of waiting for it to stop')
    .action((id: number, options: { force?: boolean }) => cancelTask(ctx, id, options));
}

/**
 * What a command that started a task prints: with --wait, the task followed
 * to its end (exit 1 when it fails); without, how to follow it.
 */
export async function followStartedTask(
  ctx: CliContext,
  client: ApiClient,
  taskId: number,
  options: { wait?: boolean },
): Promise<TaskDetails | undefined> {
  if (options.wait) return waitForTask(ctx, client, taskId);
  new Output(ctx).line(`Follow it with: vplus task wait ${taskId}`);
  return undefined;
}

async function listTasks(ctx: CliContext, options: TaskListOptions): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const page = await client.listTasks({
      state: options.state,
      type: options.type,
      node: options.node,
      subject: options.subject,
      from: options.since,
      to: options.until,
      limit: options.limit,
      cursor: options.cursor,
    });
    if (options.json) out.json(page.tasks);
    else out.line(formatTasks(page.tasks));
    const more = nextPageNote('tasks', page.tasks.length, page.nextCursor);
    if (more) out.note(more);
  });
}

/** Pages back from the newest line, then prints oldest first. */
async function printTaskLog(ctx: CliContext, id: number, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const pages: TaskLogLine[][] = [];
    let cursor: string | undefined;
    do {
      const page = await client.taskLog(id, { limit: LOG_PAGE, ...(cursor ? { cursor } : {}) });
      pages.unshift(page.lines);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    const lines = pages.flat();
    if (options.json) out.json(lines);
    else out.line(lines.length === 0 ? 'Log: (empty)' : lines.map(formatLogLine).join('\n'));
  });
}

async function showTask(ctx: CliContext, id: number, options: { json?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.getTask(id);
    if (options.json) out.json(task);
    else out.line(formatTaskDetails(task));
  });
}

async function cancelTask(ctx: CliContext, id: number, options: { force?: boolean }): Promise<void> {
  const out = new Output(ctx);
  await withClient(ctx, async (client) => {
    const task = await client.cancelTask(id, options.force ?? false);
    out.line(formatCancelled(task));
  });
}

export function formatCancelled(task: Task): string {
  const what = describeTask(task);
  if (isFinalState(task.state)) return `Cancelled ${what}.`;
  const by = task.node ? `node ${task.node}` : 'the server';
  return `Asked ${what} to stop; ${by} ends it shortly. To end it at once, run vplus task cancel ${task.id} --force`;
}

/** The PROGRESS column: percent when known, else bytes so far, else "-". */
export function formatTaskProgressShort(task: Task): string {
  const p = task.progress;
  if (p.percent !== null) return `${Math.floor(p.percent)}%`;
  if (p.bytesDone > 0) return formatBytes(p.bytesDone);
  return '-';
}

/** "42%, 1.20 GiB of 3.00 GiB, 45.3 MiB/s, ETA 1m 05s (measuring staging write speed)" */
export function formatTaskProgress(task: Task): string {
  const p = task.progress;
  const parts: string[] = [];
  if (p.percent !== null) parts.push(`${Math.floor(p.percent)}%`);
  if (p.bytesTotal) parts.push(`${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`);
  else if (p.bytesDone > 0) parts.push(formatBytes(p.bytesDone));
  if (p.rate !== null) parts.push(formatRate(p.rate));
  if (p.etaSeconds !== null) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  const text = parts.join(', ') || '-';
  // What a running task is doing now; once it ended, that is history.
  return p.message && !isFinalState(task.state) ? `${text} (${p.message})` : text;
}

const ERROR_COLUMN_WIDTH = 60;

export function formatTasks(tasks: readonly Task[]): string {
  if (tasks.length === 0) return 'No tasks.';
  return formatTable(
    ['ID', 'TYPE', 'STATE', 'PROGRESS', 'NODE', 'CREATED', 'ERROR'],
    tasks.map((t) => [
      String(t.id),
      t.type,
      t.state,
      formatTaskProgressShort(t),
      t.node ?? '-',
      formatTimestamp(t.createdAt),
      truncate(t.error ?? '', ERROR_COLUMN_WIDTH),
    ]),
  );
}

export function formatTaskDetails(task: TaskDetails): string {
  const state = task.cancelRequested && !isFinalState(task.state) ? `${task.state} (cancel requested)` : task.state;
  const fields: [string, string][] = [
    ['ID', String(task.id)],
    ['Type', task.type],
    ['Subject', task.subject ?? '-'],
    ['State', state],
    ['Node', task.node ?? (task.nodeId === null ? '-' : String(task.nodeId))],
    ['Progress', formatTaskProgress(task)],
    ['Attempt', `${task.attempt} of ${task.maxAttempts}`],
    ['Priority', String(task.priority)],
    ...(task.workflowId !== null ? [['Workflow', String(task.workflowId)] as [string, string]] : []),
    ['Created', `${formatTimestamp(task.createdAt)}${task.createdBy ? ` by ${task.createdBy}` : ''}`],
    ['Started', task.startedAt ? formatTimestamp(task.startedAt) : '-'],
    ['Finished', task.finishedAt ? formatTimestamp(task.finishedAt) : '-'],
  ];
  if (task.error) fields.push(['Error', task.error]);
  for (const warning of task.warnings) fields.push(['Warning', warning]);
  // A type with its own formatter gets a block of its own below the fields; others one line of key=value.
  const described = formatTaskResult(task);
  if (!described && task.result && Object.keys(task.result).length > 0) fields.push(['Result', formatResult(task.result)]);
  const result = described ? `\nResult:\n${described.split('\n').map((l) => `  ${l}`).join('\n')}` : '';
  const earlier = task.logCursor ? [`  (earlier lines: vplus task log ${task.id})`] : [];
  const log = task.log.length === 0 ? 'Log: (empty)' : ['Log:', ...earlier, ...task.log.map((l) => `  ${formatLogLine(l)}`)].join('\n');
  return `${formatFields(fields)}${result}\n${log}`;
}

function formatLogLine(l: TaskLogLine): string {
  return `${formatDateTime(l.at)} ${l.level.toUpperCase().padEnd(5)} ${l.message}`;
}

/** A task's result for people: byte counts and rates in units, the rest as JSON values. */
export function formatResult(result: Record<string, unknown>): string {
  return Object.entries(result)
    .map(([key, value]) => {
      if (typeof value === 'number' && /BytesPerSecond$/.test(key)) return `${key}=${formatRate(value)}`;
      if (typeof value === 'number' && /Bytes$/.test(key)) return `${key}=${formatBytes(value)}`;
      return `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
    })
    .join(', ');
}

function truncate(text: string, width: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= width ? oneLine : `${oneLine.slice(0, width - 1)}…`;
}

export function parseTaskId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('a task id is a positive whole number, as vplus task list shows it.');
  }
  return Number(value);
}

/** Commander parser for a whole number in [min, max]. */
export function intParser(what: string, min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}.`);
    }
    return Number(value);
  };
}

/** Commander parser for an enum value, accepted in any case. */
function choiceParser<T extends string>(what: string, choices: readonly T[]): (value: string) => T {
  return (value) => {
    const upper = value.trim().toUpperCase();
    const found = choices.find((c) => c === upper);
    if (!found) throw new InvalidArgumentError(`there is no task ${what} "${value}"; use one of ${choices.join(', ')}.`);
    return found;
  };
}
