import type { TaskType } from '../../common/api/tasks.js';
import { firstIssue, TASK_CONTRACTS } from '../../common/task-contracts.js';
import type { Logger } from 'pino';
import type { AssignedTask, NodeToServer } from '../../common/node-protocol.js';
import type { TaskHandler } from './task-handler.js';

/** How many cancels of tasks not (yet) running here are remembered. */
const MAX_EARLY_CANCELS = 1000;

type Outcome = Extract<NodeToServer, { type: 'task.finished' }>;

interface Running {
  abort: AbortController;
  forced: boolean;
  lastProgressAt: number;
}

export interface TaskRunnerOptions {
  stagingDir: string;
  handlers: TaskHandler[];
  logger: Logger;
  /** Sends a message to the server, or queues it when disconnected (outcomes only). */
  send(message: NodeToServer): void;
  /** Progress is sent at most this often per task. */
  progressIntervalMs?: number;
}

/**
 * Runs the tasks the server assigns, each with an AbortController: a graceful
 * cancel aborts it and lets it clean up; a forced cancel reports CANCELLED at
 * once and ignores whatever the handler does afterwards.
 */
export class TaskRunner {
  private readonly running = new Map<number, Running>();
  /**
   * Tasks cancelled before their assignment arrived. The server marks a task running, then
   * sends its assignment; a cancel in between (a workflow's STORE cancelled at once cancels
   * its EXPORT) can overtake it. Such a task must not run: nothing would read its export.
   */
  private readonly cancelledEarly = new Set<number>();
  private readonly handlers: Map<string, TaskHandler>;

  constructor(private readonly o: TaskRunnerOptions) {
    this.handlers = new Map(o.handlers.map((h) => [h.type, h]));
  }

  get taskTypes(): string[] {
    return [...this.handlers.keys()];
  }

  runningIds(): number[] {
    return [...this.running.keys()];
  }

  start(task: AssignedTask): void {
    if (this.running.has(task.id)) return;
    if (this.cancelledEarly.delete(task.id)) {
      this.o.logger.info({ taskId: task.id, type: task.type }, 'task cancelled before it started');
      this.finish({ type: 'task.finished', taskId: task.id, state: 'CANCELLED', error: 'cancelled before it started' });
      return;
    }
    const handler = this.handlers.get(task.type);
    const log = this.o.logger.child({ taskId: task.id, type: task.type });
    if (!handler) {
      this.finish({ type: 'task.finished', taskId: task.id, state: 'FAILED', error: `this node cannot run ${task.type} tasks` });
      return;
    }
    // The same contract the server checked when it created the task (common/task-contracts.ts).
    const contract = (TASK_CONTRACTS as Partial<Record<string, (typeof TASK_CONTRACTS)[TaskType]>>)[task.type];
    const parsed = contract?.params.safeParse(task.params);
    if (parsed && !parsed.success) {
      const error = `the ${task.type} task's parameters do not fit this node's contract (${firstIssue(parsed.error)}); run the same version on the node and the server (upgrade the node)`;
      this.finish({ type: 'task.finished', taskId: task.id, state: 'FAILED', error });
      return;
    }
    const state: Running = { abort: new AbortController(), forced: false, lastProgressAt: 0 };
    this.running.set(task.id, state);
    log.info('task started');
    const interval = this.o.progressIntervalMs ?? 250;
    void handler
      .run({
        taskId: task.id,
        params: task.params,
        stagingDir: this.o.stagingDir,
        signal: state.abort.signal,
        logger: log,
        progress: (bytesDone, bytesTotal, message) => {
          const now = Date.now();
          if (state.forced || (now - state.lastProgressAt < interval && bytesDone !== bytesTotal)) return;
          state.lastProgressAt = now;
          this.o.send({ type: 'task.progress', taskId: task.id, bytesDone, bytesTotal, message: message ?? null });
        },
        log: (level, message) => {
          if (!state.forced) this.o.send({ type: 'task.log', taskId: task.id, level, message });
        },
      })
      .then(
        (r): Outcome => ({
          type: 'task.finished',
          taskId: task.id,
          state: r?.failed !== undefined ? 'FAILED' : r?.warnings?.length ? 'FINISHED_WITH_WARNINGS' : 'FINISHED',
          ...(r?.failed !== undefined ? { error: r.failed } : {}),
          warnings: r?.warnings ?? [],
          result: r?.result ?? null,
        }),
        (err: unknown): Outcome =>
          state.abort.signal.aborted
            ? { type: 'task.finished', taskId: task.id, state: 'CANCELLED', error: 'cancelled' }
            : { type: 'task.finished', taskId: task.id, state: 'FAILED', error: (err as Error).message },
      )
      .then((outcome) => {
        if (state.forced) return;
        log.info({ state: outcome.state, error: outcome.error }, 'task ended');
        this.finish(outcome);
      });
  }

  cancel(taskId: number, force: boolean): void {
    const state = this.running.get(taskId);
    if (!state) {
      this.cancelledEarly.add(taskId);
      // Bounded: cancels of tasks that ended here already are remembered too, and never start.
      if (this.cancelledEarly.size > MAX_EARLY_CANCELS) this.cancelledEarly.delete(this.cancelledEarly.values().next().value!);
      return;
    }
    state.abort.abort(new Error('cancelled'));
    if (force) {
      state.forced = true;
      this.finish({ type: 'task.finished', taskId, state: 'CANCELLED', error: 'cancelled (forced)' });
    }
  }

  /** Stops everything (node shutting down): tasks are aborted and reported cancelled. */
  stopAll(): void {
    for (const id of this.running.keys()) this.cancel(id, true);
  }

  private finish(outcome: Outcome): void {
    this.running.delete(outcome.taskId);
    this.o.send(outcome);
  }
}
