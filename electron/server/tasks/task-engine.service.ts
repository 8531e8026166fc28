import type { Logger } from 'pino';
import { isFinalState, type Task, type TaskState } from '../../../common/api/tasks.js';
import type { Catalog, Sql } from '../db/catalog.js';
import { conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { progressView, RateEstimator } from './progress-tracker.js';
import { checkOutcome, checkParams, redactSecrets, TaskListeners } from './task-contracts.js';
import { settleWorkflow } from './workflow-settle.js';
import { toTask, type NewTask, type TaskRow, type TasksRepository } from './tasks.repository.js';
import {
  DEFAULT_TASK_TIMING,
  SERVER_TASK_TYPES,
  type NodeChannel,
  type NodeDirectory,
  type ServerTaskHandler,
  type TaskTiming,
} from './task-types.js';

interface LiveProgress {
  estimator: RateEstimator;
  bytesDone: number;
  bytesTotal: number | null;
  rate: number | null;
  message: string | null;
  persistedAt: number;
  publishedAt: number;
}

/** How a task ends that the server's stop interrupted (the same words as a restart after a crash). */
const SHUTDOWN_ERROR = 'the server stopped while this task was running; run it again';

/** A server task whose signal was aborted: cancelled by a user, or failed because the server is stopping. */
function abortedOutcome(signal: AbortSignal, otherwise: string): Outcome {
  const message = (signal.reason as Error | undefined)?.message;
  return message === SHUTDOWN_ERROR ? { state: 'FAILED', error: message } : { state: 'CANCELLED', error: otherwise };
}

export interface Outcome {
  state: Exclude<TaskState, 'QUEUED' | 'RUNNING'>;
  error?: string | null;
  warnings?: string[];
  result?: Record<string, unknown> | null;
}

/**
 * The task queue: creates tasks and workflows, hands QUEUED tasks to nodes
 * (or runs server tasks itself), tracks progress and logs, applies outcomes,
 * retries, cancels, and keeps workflows consistent. State lives in the
 * catalog; this class holds only what is live (progress, abort handles).
 */
export class TaskEngine {
  private readonly live = new Map<number, LiveProgress>();
  private readonly serverRuns = new Map<number, AbortController>();
  private readonly serverRunsDone = new Set<Promise<void>>();
  /** Tasks stopped because the server is stopping: a CANCELLED report from their node is recorded as FAILED. */
  private readonly shutdownStops = new Set<number>();
  private dispatching: Promise<void> | undefined;
  private again = false;
  private poll: NodeJS.Timeout | undefined;
  private stopped = false;
  /**
   * Tasks whose end is committed but whose listeners are still recording it (a backup into
   * the catalog): readers still see them running, so "finished" always comes with its effects.
   */
  private readonly settling = new Set<number>();
  /** Who hears of finished tasks (by type, typed) and who adds dispatch-time params (by type). */
  readonly listeners: TaskListeners;

  constructor(
    private readonly catalog: Catalog,
    private readonly tasks: TasksRepository,
    private readonly nodes: NodeDirectory,
    private readonly serverHandlers: Map<string, ServerTaskHandler>,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly timing: TaskTiming = DEFAULT_TASK_TIMING,
  ) {
    this.listeners = new TaskListeners(logger);
  }

  start(): void {
    this.poll = setInterval(() => this.kick(), this.timing.pollMs);
    this.poll.unref();
    this.kick();
  }

  /** Shutdown, first step: nothing new is dispatched (synchronous, so it holds even when the catalog is down). */
  halt(): void {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
  }

  /** Shutdown: stops dispatching, stops the server's own tasks and waits until their outcomes are recorded. */
  async stop(): Promise<void> {
    this.halt();
    for (const ac of this.serverRuns.values()) ac.abort(new Error(SHUTDOWN_ERROR));
    await this.dispatching;
    await Promise.allSettled(this.serverRunsDone);
  }

  /**
   * Shutdown: the tasks running on nodes that stop with the server (the ones
   * it supervises) are asked to stop, so they clean up and report; each ends
   * FAILED ("the server stopped…"; re-queued where a retry is allowed). A
   * task whose node does not report within `timeoutMs` is failed here.
   */
  async endTasksOnNodes(nodeIds: readonly number[], timeoutMs: number): Promise<void> {
    const rows = (await Promise.all(nodeIds.map((id) => this.tasks.runningOnNode(id)))).flat();
    await Promise.all(
      rows.map(async (row) => {
        this.shutdownStops.add(row.id);
        await this.appendLog(row.id, 'warn', 'the server is stopping; asking the node to stop this task');
        const ended = this.waitUntilNotRunning(row.id, timeoutMs);
        this.nodes.get(row.node_id!)?.send({ type: 'task.cancel', taskId: row.id, force: false });
        if (!(await ended)) {
          await this.complete(row.id, row.node_id, { state: 'FAILED', error: `${SHUTDOWN_ERROR}; the node did not stop it within ${Math.round(timeoutMs / 1000)}s` });
          this.nodes.get(row.node_id!)?.send({ type: 'task.cancel', taskId: row.id, force: true });
        }
      }),
    );
  }

  private waitUntilNotRunning(taskId: number, timeoutMs: number): Promise<boolean> {
    let unsubscribe = (): void => undefined;
    const ended = new Promise<boolean>((resolve) => {
      unsubscribe = this.bus.subscribe((e) => e.type === 'task' && e.task.id === taskId && e.task.state !== 'RUNNING' && resolve(true));
    });
    return Promise.race([ended, sleep(timeoutMs).then(() => false)]).finally(unsubscribe);
  }

  /** Resolves with the task once it has ended, or rejects after the timeout. */
  async waitForEnd(taskId: number, timeoutMs: number, signal?: AbortSignal): Promise<Task> {
    return new Promise<Task>((resolve, reject) => {
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = (): void => finish(() => reject(signal?.reason as Error));
      const timer = setTimeout(() => finish(() => reject(new Error(`task ${taskId} did not end within ${Math.round(timeoutMs / 1000)}s`))), timeoutMs);
      const unsubscribe = this.bus.subscribe((e) => {
        if (e.type === 'task' && e.task.id === taskId && isFinalState(e.task.state)) finish(() => resolve(e.task));
      });
      signal?.addEventListener('abort', onAbort);
      void this.get(taskId).then((t) => {
        if (isFinalState(t.state)) finish(() => resolve(t));
      }, (err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))));
    });
  }

  // ---- creating ---------------------------------------------------------

  async create(t: NewTask): Promise<Task> {
    checkParams(t.type, t.params, t.maxAttempts);
    const id = await this.tasks.insert(t);
    const task = await this.publish(id);
    this.kick();
    return task;
  }

  /** A workflow runs its tasks in order; each waits for the previous one to finish. */
  /** `policyRunId`: the policy run that starts it (its job is a line of the run's job). */
  async createWorkflow(type: string, subject: string | null, createdBy: string | null, steps: NewTask[], policyRunId: number | null = null): Promise<{ workflowId: number; taskIds: number[] }> {
    for (const step of steps) checkParams(step.type, step.params, step.maxAttempts);
    const result = await this.catalog.transaction(async (tx) => {
      const workflowId = await this.tasks.insertWorkflow({ type, subject, createdBy, policyRunId }, tx);
      const taskIds: number[] = [];
      for (const [seq, step] of steps.entries()) {
        taskIds.push(await this.tasks.insert({ ...step, subject: step.subject ?? subject, createdBy, workflowId, seq, dependsOn: taskIds.at(-1) ?? null }, tx));
      }
      return { workflowId, taskIds };
    });
    for (const id of result.taskIds) await this.publish(id);
    this.kick();
    return result;
  }

  async get(id: number): Promise<Task> {
    const row = await this.tasks.get(id);
    if (!row) throw notFound(`there is no task ${id}`);
    return this.withLive(toTask(row));
  }

  // ---- dispatching ------------------------------------------------------

  /** Ask for a dispatch pass soon; passes never overlap. */
  kick(): void {
    if (this.stopped) return;
    if (this.dispatching) {
      this.again = true;
      return;
    }
    this.dispatching = this.dispatchLoop().finally(() => {
      this.dispatching = undefined;
    });
  }

  private async dispatchLoop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.dispatchOnce();
      } catch (err) {
        this.logger.error({ err }, 'dispatch pass failed');
      }
    } while (this.again && !this.stopped);
  }

  private async dispatchOnce(): Promise<void> {
    const assigned: { task: TaskRow; node: NodeChannel | null }[] = [];
    await this.catalog.transaction(async (tx) => {
      const candidates = await this.tasks.lockDispatchable(50, tx);
      if (!candidates.length) return;
      const running = await this.tasks.runningCounts(tx);
      for (const task of candidates) {
        if (SERVER_TASK_TYPES.has(task.type)) {
          if (await this.tasks.markRunning(task.id, null, tx)) assigned.push({ task, node: null });
          continue;
        }
        const node = this.pickNode(task, running);
        if (!node) continue;
        if (await this.tasks.markRunning(task.id, node.nodeId, tx)) {
          running.set(node.nodeId, (running.get(node.nodeId) ?? 0) + 1);
          assigned.push({ task, node });
        }
      }
    });
    for (const { task, node } of assigned) {
      this.live.set(task.id, { estimator: new RateEstimator(), bytesDone: 0, bytesTotal: null, rate: null, message: null, persistedAt: 0, publishedAt: 0 });
      const current = await this.publish(task.id);
      if (node === null) {
        this.runOnServer(current);
      } else if (!node.send({ type: 'task.assign', task: { id: task.id, type: task.type, params: await this.paramsForNode(current), attempt: current.attempt } })) {
        // The node vanished between choosing it and sending: put the task back.
        await this.tasks.requeue(task.id, 0, null);
        this.live.delete(task.id);
        await this.publish(task.id);
      } else {
        this.logger.info({ taskId: task.id, type: task.type, node: node.name }, 'task dispatched');
      }
    }
  }

  /**
   * The task's params plus what is known only now (a chain base, the destination's path and
   * password). What the node gets is recorded in the task, secrets and the previous step's
   * result left out, so the task shows what the node worked with.
   */
  private async paramsForNode(task: Task): Promise<Record<string, unknown>> {
    const extra = await this.listeners.dispatchParams(task);
    const params = { ...task.params, ...extra };
    // Only a task whose params changed at dispatch is written again.
    if (Object.keys(extra).length > 0) await this.tasks.setParams(task.id, redactSecrets(params));
    // A workflow step builds on the one before it (STORE reads what EXPORT exposed).
    return task.dependsOn === null ? params : { ...params, previousResult: (await this.get(task.dependsOn)).result };
  }

  private pickNode(task: TaskRow, running: Map<number, number>): NodeChannel | undefined {
    const able = this.nodes
      .connected()
      .filter((n) => (task.required_node_id === null || n.nodeId === task.required_node_id) && n.capabilities.taskTypes.includes(task.type))
      .filter((n) => (running.get(n.nodeId) ?? 0) < n.capabilities.maxConcurrentTasks);
    able.sort((a, b) => (running.get(a.nodeId) ?? 0) - (running.get(b.nodeId) ?? 0));
    return able[0];
  }

  private runOnServer(task: Task): void {
    const handler = this.serverHandlers.get(task.type);
    const ac = new AbortController();
    this.serverRuns.set(task.id, ac);
    const run = async (): Promise<Outcome> => {
      if (!handler) return { state: 'FAILED', error: `this server cannot run ${task.type} tasks` };
      try {
        const r = await handler({
          taskId: task.id,
          params: task.params,
          signal: ac.signal,
          log: (level, message) => void this.appendLog(task.id, level, message),
          progress: (done, total, message) => this.progress(task.id, done, total, message ?? null),
        });
        if (ac.signal.aborted) return abortedOutcome(ac.signal, 'cancelled');
        return { state: r?.warnings?.length ? 'FINISHED_WITH_WARNINGS' : 'FINISHED', warnings: r?.warnings ?? [], result: r?.result ?? null };
      } catch (err) {
        if (ac.signal.aborted) return abortedOutcome(ac.signal, (ac.signal.reason as Error | undefined)?.message ?? 'cancelled');
        return { state: 'FAILED', error: (err as Error).message };
      }
    };
    const done = run()
      .then((outcome) => this.complete(task.id, null, outcome))
      .catch((err: unknown) => this.logger.error({ err, taskId: task.id }, 'could not record a server task outcome'))
      .finally(() => {
        this.serverRuns.delete(task.id);
        this.serverRunsDone.delete(done);
      });
    this.serverRunsDone.add(done);
  }

  // ---- reports from nodes ----------------------------------------------

  progress(taskId: number, bytesDone: number, bytesTotal: number | null, message: string | null): void {
    const p = this.live.get(taskId);
    if (!p) return;
    const now = Date.now();
    p.rate = p.estimator.sample(bytesDone, now);
    p.bytesDone = bytesDone;
    p.bytesTotal = bytesTotal;
    if (message !== null) p.message = message;
    if (now - p.persistedAt >= this.timing.progressPersistMs) {
      p.persistedAt = now;
      void this.tasks.saveProgress(taskId, p).catch((err: unknown) => this.logger.warn({ err, taskId }, 'could not save progress'));
    }
    if (now - p.publishedAt >= this.timing.progressPublishMs) {
      p.publishedAt = now;
      void this.publish(taskId).catch((err: unknown) => this.logger.debug({ err, taskId }, 'could not publish task progress'));
    }
  }

  async appendLog(taskId: number, level: 'debug' | 'info' | 'warn' | 'error', message: string): Promise<void> {
    try {
      const line = await this.tasks.appendLog(taskId, level, message);
      this.bus.publish({ type: 'task.log', taskId, line });
    } catch (err) {
      this.logger.warn({ err, taskId }, 'could not store a task log line');
    }
  }

  /**
   * Applies a task's outcome. `fromNodeId` must be the node the task runs on
   * (null for server tasks): a late report from a node that lost the task is ignored.
   */
  async complete(taskId: number, fromNodeId: number | null, reported: Outcome): Promise<void> {
    const stopped: Outcome = this.shutdownStops.has(taskId) && reported.state === 'CANCELLED' ? { state: 'FAILED', error: SHUTDOWN_ERROR } : reported;
    const marked: number[] = [];
    const touched = await this.catalog.transaction(async (tx) => {
      const row = await this.tasks.lock(taskId, tx);
      if (!row || row.state !== 'RUNNING' || row.node_id !== fromNodeId) {
        this.logger.info({ taskId, fromNodeId, state: row?.state, nodeId: row?.node_id, outcome: stopped.state }, 'ignoring an outcome for a task that no longer runs there');
        return [];
      }
      const outcome = checkOutcome(row.type, stopped);
      if (outcome !== stopped && outcome.state === 'FAILED') this.logger.warn({ taskId, type: row.type, error: outcome.error }, 'a task result of the wrong shape');
      const live = this.live.get(taskId);
      if (live) await this.tasks.saveProgress(taskId, live, tx);
      if (outcome.state === 'FAILED' && row.attempt < row.max_attempts && row.cancel_requested === 0) {
        const delay = Math.min(this.timing.retryMaxMs, this.timing.retryBaseMs * 2 ** (row.attempt - 1));
        await this.tasks.requeue(taskId, delay, outcome.error ?? null, tx);
        await this.logIn(tx, taskId, 'warn', `attempt ${row.attempt} of ${row.max_attempts} failed: ${outcome.error ?? 'unknown error'}; retrying in ${Math.round(delay / 1000)}s`);
        return [taskId];
      }
      await this.tasks.finish(taskId, outcome, tx);
      const ended = [taskId, ...(await settleWorkflow(this.tasks, row, outcome.state, tx))];
      for (const id of ended) this.settling.add(id);
      marked.push(...ended);
      return ended;
    }).catch((err: unknown) => {
      for (const id of marked) this.settling.delete(id);
      throw err;
    });
    this.live.delete(taskId);
    for (const id of touched) await this.announce(id);
    this.kick();
  }

  /** Publishes a task's new state; for a final state, listeners update what depends on it first, so watchers see consistent data. */
  private async announce(taskId: number): Promise<void> {
    const row = await this.tasks.get(taskId);
    if (!row) return;
    const task = toTask(row);
    if (isFinalState(task.state)) {
      // Its effects first (readers still see it running), then what follows from it (a policy
      // run's end, a notification), which may read the task and sees it finished.
      await this.listeners.emitTyped(task).finally(() => this.settling.delete(taskId));
      await this.listeners.emitAny(task);
    }
    this.bus.publish({ type: 'task', task: this.withLive(task) });
  }

  /** True while a task's end is being recorded by its listeners (readers see it running). */
  isSettling(taskId: number): boolean {
    return this.settling.has(taskId);
  }

  // ---- cancel --------------------------------------------------------------

  /** First request: graceful. A second request (or force) stops it at once. */
  async cancel(taskId: number, force: boolean, by: string): Promise<Task> {
    const { row, forced, touched, stepsOnNodes } = await this.catalog.transaction(async (tx) => {
      const row = await this.tasks.lock(taskId, tx);
      if (!row) throw notFound(`there is no task ${taskId}`);
      if (isFinalState(row.state)) throw conflict(`task ${taskId} already ended (${row.state})`);
      const forced = force || row.cancel_requested === 1;
      await this.tasks.requestCancel(taskId, tx);
      await this.logIn(tx, taskId, 'warn', `${forced ? 'forced cancel' : 'cancel'} requested by ${by}`);
      if (row.state === 'QUEUED' || forced) {
        // Other steps of the workflow running on nodes end with it: their nodes must hear it
        // (an EXPORT still running would otherwise leave its export open for a STORE that never comes).
        const running = row.workflow_id === null ? [] : (await this.tasks.workflowTasks(row.workflow_id, tx)).filter((s) => s.id !== taskId && s.state === 'RUNNING' && s.node_id !== null);
        await this.tasks.finish(taskId, { state: 'CANCELLED', error: `cancelled by ${by}` }, tx);
        return { row, forced, touched: [taskId, ...(await settleWorkflow(this.tasks, row, 'CANCELLED', tx))], stepsOnNodes: running };
      }
      return { row, forced, touched: [taskId], stepsOnNodes: [] };
    });
    for (const s of stepsOnNodes) {
      this.nodes.get(s.node_id!)?.send({ type: 'task.cancel', taskId: s.id, force: true });
      this.live.delete(s.id);
    }
    if (row.state === 'RUNNING') {
      if (row.node_id === null) this.serverRuns.get(taskId)?.abort(new Error(`cancelled by ${by}`));
      else this.nodes.get(row.node_id)?.send({ type: 'task.cancel', taskId, force: forced });
      if (forced) this.live.delete(taskId);
    }
    for (const id of touched) await this.announce(id);
    this.kick();
    return this.get(taskId);
  }

  // ---- crash safety ---------------------------------------------------------

  /**
   * A node connected (again) and says what it still runs. Tasks the catalog
   * thinks it runs but it does not were lost with its restart; tasks it runs
   * that already ended here (timed out, cancelled) are stopped on the node.
   */
  async nodeConnected(nodeId: number, runningOnNode: number[]): Promise<void> {
    const claimed = new Set(runningOnNode);
    for (const row of await this.tasks.runningOnNode(nodeId)) {
      if (claimed.has(row.id)) {
        if (!this.live.has(row.id)) {
          this.live.set(row.id, { estimator: new RateEstimator(), bytesDone: Number(row.bytes_done), bytesTotal: row.bytes_total, rate: null, message: row.progress_message, persistedAt: 0, publishedAt: 0 });
        }
        continue;
      }
      await this.complete(row.id, nodeId, { state: 'FAILED', error: 'node lost: the node restarted and no longer runs this task' });
    }
    for (const id of claimed) {
      const row = await this.tasks.get(id);
      if (!row || row.state !== 'RUNNING' || row.node_id !== nodeId) this.nodes.get(nodeId)?.send({ type: 'task.cancel', taskId: id, force: true });
    }
    this.kick();
  }

  /** The node did not come back in time: its running tasks fail (or retry, where allowed). */
  async nodeLost(nodeId: number, reason: string): Promise<void> {
    for (const row of await this.tasks.runningOnNode(nodeId)) {
      await this.appendLog(row.id, 'error', `node lost: ${reason}`);
      await this.complete(row.id, nodeId, { state: 'FAILED', error: `node lost: ${reason}` });
    }
  }

  /**
   * At server start: server tasks that were running died with the old
   * process; node tasks are given to their nodes to claim (nodeConnected) and
   * fail as lost if their node does not return within `graceMs`.
   */
  async recoverAfterRestart(graceMs: number): Promise<void> {
    const running = await this.tasks.running();
    for (const row of running.filter((r) => r.node_id === null)) {
      await this.appendLog(row.id, 'error', 'the server restarted while this task was running');
      await this.complete(row.id, null, { state: 'FAILED', error: 'the server restarted while this task was running; run it again' });
    }
    const nodeIds = new Set(running.filter((r) => r.node_id !== null).map((r) => r.node_id!));
    if (!nodeIds.size) return;
    const timer = setTimeout(() => {
      for (const nodeId of nodeIds) {
        if (this.nodes.get(nodeId)) continue;
        void this.nodeLost(nodeId, `its node did not reconnect within ${Math.round(graceMs / 1000)}s after the server restarted`).catch((err: unknown) =>
          this.logger.error({ err }, 'could not fail the tasks of a lost node'),
        );
      }
    }, graceMs);
    timer.unref();
  }

  // ---- helpers ----------------------------------------------------------------

  private async logIn(tx: Sql, taskId: number, level: 'info' | 'warn' | 'error', message: string): Promise<void> {
    await tx.execute('INSERT INTO task_logs (task_id, level, message) VALUES (?, ?, ?)', [taskId, level, message]);
  }

  /** A task as readers see it: a step being settled still runs, a running one with its live progress. */
  withLive(task: Task): Task {
    if (this.settling.has(task.id)) return { ...task, state: 'RUNNING', finishedAt: null, error: null, result: null };
    const p = this.live.get(task.id);
    if (!p || task.state !== 'RUNNING') return task;
    return { ...task, progress: progressView(p, task.state) };
  }

  private async publish(taskId: number): Promise<Task> {
    const task = await this.get(taskId);
    this.bus.publish({ type: 'task', task });
    return task;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
