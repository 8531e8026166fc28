import { encodeTimeCursor, isFinalState, type Task, type TaskDetails, type TaskListQuery, type TaskLogLine, type TaskPage } from '@common/api/index.js';
import type { QueryClient } from '@tanstack/react-query';
import { invalidateNodes } from './node-cache.js';
import { queryKeys } from './query-keys.js';

/** Mirrors the server's filters of GET /api/tasks, so a pushed task lands in the lists that show it. */
export function taskMatchesQuery(task: Task, query: TaskListQuery): boolean {
  if (query.state !== undefined && task.state !== query.state) return false;
  if (query.type !== undefined && task.type !== query.type) return false;
  if (query.node !== undefined && String(task.nodeId) !== query.node && task.node !== query.node) return false;
  if (query.subject !== undefined && task.subject !== query.subject) return false;
  if (query.from !== undefined && Date.parse(task.createdAt) < Date.parse(query.from)) return false;
  if (query.to !== undefined && Date.parse(task.createdAt) >= Date.parse(query.to)) return false;
  return true;
}

export type PageUpdate =
  | { kind: 'unchanged' }
  | { kind: 'updated'; page: TaskPage }
  /** The page cannot be patched locally; `refetch` says whether it is on screen-worthy enough to fetch now. */
  | { kind: 'stale'; refetch: boolean };

/**
 * How one pushed task changes one cached page of the task list (newest first). Pure: the
 * list's live behaviour is decided here, not scattered over components.
 */
export function applyTaskToPage(page: TaskPage, query: TaskListQuery, task: Task): PageUpdate {
  const index = page.tasks.findIndex((candidate) => candidate.id === task.id);
  const matches = taskMatchesQuery(task, query);
  if (index !== -1) {
    // It left the filter (say, it finished while the list shows running tasks): the server
    // knows what fills the gap.
    if (!matches) return { kind: 'stale', refetch: true };
    const tasks = page.tasks.slice();
    tasks[index] = task;
    return { kind: 'updated', page: { ...page, tasks } };
  }
  if (!matches) return { kind: 'unchanged' };
  // A later page starts after its cursor: a new task is on the first page, never on this one.
  if (query.cursor !== undefined) return { kind: 'unchanged' };
  const full = page.tasks.length >= query.limit;
  const oldest = page.tasks.at(-1);
  // Older than everything on a full first page: it belongs on a later page.
  if (full && oldest !== undefined && newestFirst(task, oldest) > 0) return { kind: 'unchanged' };
  const sorted = [...page.tasks, task].sort(newestFirst);
  // The row pushed off a full page is the next page's first: the cursor moves up to the last row kept.
  const tasks = sorted.slice(0, query.limit);
  const last = tasks.at(-1)!;
  const nextCursor = sorted.length > query.limit ? encodeTimeCursor({ at: new Date(last.createdAt), id: last.id }) : page.nextCursor;
  return { kind: 'updated', page: { tasks, nextCursor } };
}

/** The server's order of task lists: newest first by creation, then by id. */
const newestFirst = (a: Task, b: Task): number => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.id - a.id;

/** The last version of a task any cache holds, to tell a state change from a progress tick. */
export function cachedTask(queryClient: QueryClient, id: number): Task | undefined {
  const details = queryClient.getQueryData<TaskDetails>(queryKeys.task(id));
  if (details !== undefined) return details;
  for (const [, page] of queryClient.getQueriesData<TaskPage>({ queryKey: queryKeys.taskLists })) {
    const found = page?.tasks.find((task) => task.id === id);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Writes a task from an event or a mutation answer into every cache that shows it. */
export function upsertTask(queryClient: QueryClient, task: Task): void {
  const previous = cachedTask(queryClient, task.id);

  queryClient.setQueryData<TaskDetails>(queryKeys.task(task.id), (old) => (old === undefined ? old : { ...old, ...task }));

  for (const query of queryClient.getQueryCache().findAll({ queryKey: queryKeys.taskLists })) {
    const page = query.state.data as TaskPage | undefined;
    const listQuery = query.queryKey[2] as TaskListQuery | undefined;
    if (page === undefined || listQuery === undefined) continue;
    const update = applyTaskToPage(page, listQuery, task);
    if (update.kind === 'updated') queryClient.setQueryData<TaskPage>(query.queryKey, update.page);
    else if (update.kind === 'stale') {
      void queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true, refetchType: update.refetch ? 'active' : 'none' });
    }
  }

  // Pushed log lines reach only a details cache that already holds data: a line pushed while
  // the first GET was on its way is dropped, and one pushed between the server reading the log
  // and the answer arriving is overwritten by that answer. Once the task has ended no line
  // follows, so one more fetch makes the log complete (and the result final).
  if (isFinalState(task.state) && (previous === undefined || !isFinalState(previous.state))) {
    const details = queryClient.getQueryCache().find<TaskDetails>({ queryKey: queryKeys.task(task.id), exact: true });
    if (details !== undefined && details.state.data === undefined && details.state.fetchStatus === 'fetching') {
      // The first GET is on its way and may have been answered before the task ended (a task
      // that fails at once, while the UI that started it is still mounting). An invalidation
      // would only join that fetch, since nothing is cached to show meanwhile, and the end,
      // which no later event repeats, would be lost: cancel it and ask again.
      void details
        .cancel({ revert: true })
        .then(() => queryClient.invalidateQueries({ queryKey: queryKeys.task(task.id), exact: true }));
    } else {
      void queryClient.invalidateQueries({ queryKey: queryKeys.task(task.id), exact: true });
    }
  }

  // Progress ticks change nothing else; a new task or a new state changes the counters.
  if (previous === undefined || previous.state !== task.state) {
    void queryClient.invalidateQueries({ queryKey: queryKeys.status });
    // Nodes show how many tasks they run.
    if (task.nodeId !== null || previous?.nodeId != null) invalidateNodes(queryClient);
  }
}

/** A task just created by this UI: known at once, so its page opens without a spinner. */
export function seedTask(queryClient: QueryClient, task: Task): void {
  upsertTask(queryClient, task);
  if (queryClient.getQueryData(queryKeys.task(task.id)) === undefined) {
    queryClient.setQueryData<TaskDetails>(queryKeys.task(task.id), { ...task, log: [] });
  }
}

/** The details page keeps at most this many lines; the server keeps them all. */
export const MAX_LOG_LINES = 5_000;
const LOG_LEVELS: ReadonlySet<string> = new Set<TaskLogLine['level']>(['debug', 'info', 'warn', 'error']);
let nextLocalLineId = -1;

export interface PushedLogLine {
  at: string;
  level: string;
  message: string;
}

/**
 * Appends a pushed line to a task's log. Pushed lines carry no id, so a line that the last
 * fetch already returned is recognised by its content among the last few lines.
 */
export function appendLogLine(log: readonly TaskLogLine[], line: PushedLogLine): TaskLogLine[] | null {
  const level = (LOG_LEVELS.has(line.level) ? line.level : 'info') as TaskLogLine['level'];
  const recent = log.slice(-50);
  if (recent.some((old) => old.at === line.at && old.level === level && old.message === line.message)) return null;
  const appended = [...log, { id: nextLocalLineId--, at: line.at, level, message: line.message }];
  return appended.length > MAX_LOG_LINES ? appended.slice(-MAX_LOG_LINES) : appended;
}

export function appendTaskLog(queryClient: QueryClient, taskId: number, line: PushedLogLine): void {
  queryClient.setQueryData<TaskDetails>(queryKeys.task(taskId), (old) => {
    if (old === undefined) return old;
    const log = appendLogLine(old.log, line);
    return log === null ? old : { ...old, log };
  });
}
