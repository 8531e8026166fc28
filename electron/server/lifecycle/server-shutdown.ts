import type { Logger } from 'pino';
import type { OpenedCatalog } from '../db/catalog-factory.js';
import type { NodeSessions } from '../nodes/node-sessions.js';
import type { NodesRepository } from '../nodes/nodes.repository.js';
import type { NodeSupervisor } from '../nodes/installer/node-supervisor.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import { ShutdownSequence } from './shutdown-sequence.js';

/**
 * The parts of a running server the stop deals with. The composition root
 * fills this in as it starts them, so a start that fails half-way is undone
 * by the same sequence (a part not started yet is skipped).
 */
export interface ServerParts {
  catalog?: OpenedCatalog;
  engine?: TaskEngine;
  nodes?: NodesRepository;
  sessions?: NodeSessions;
  supervisor?: NodeSupervisor;
  /** The HTTPS server: closing it closes every connection, the nodes' ones included. */
  http?: { close(): Promise<void> };
  scheduler?: { stop(): Promise<void> };
  /** Timers and pollers: inventory sync, session purge. */
  timers: (() => void)[];
  /** Messages being sent get to finish (each has its own timeout). */
  notifications?: { idle(): Promise<void> };
}

export interface ServerShutdown {
  /** False once the stop has begun: the HTTP layer refuses new requests. */
  accepting: () => boolean;
  run: () => Promise<void>;
}

/**
 * How the server stops, whatever asked it to (Ctrl-C, SIGTERM from systemd,
 * the desktop app's Quit, a failed start): one ordered path.
 *
 *  0. at once: nothing restarts any more (mariadbd, supervised nodes), no task
 *     is dispatched, no schedule fires;
 *  1. stop accepting requests (503) and scheduling;
 *  2. the server's own tasks and those on the nodes it supervises stop and
 *     record how they ended (FAILED, "the server stopped…"); then every node
 *     is told the server is going (its connection closes; a node installed as
 *     a service keeps its tasks and reports them when the server is back);
 *  3. stop the supervised nodes (SIGTERM, then SIGKILL);
 *  4. close the catalog's connections;
 *  5. stop the managed MariaDB (a clean shutdown, SIGKILL after a timeout).
 *
 * Each step has a deadline and so has the whole stop; past it, the nodes and
 * then mariadbd are killed by pid, and the log says why.
 */
export function serverShutdown(parts: ServerParts, logger: Logger, totalMs: number): ServerShutdown {
  const log = logger.child({ module: 'shutdown' });
  const sequence = new ShutdownSequence({ logger: log, totalMs });
  let schedulerStopped: Promise<void> = Promise.resolve();

  sequence.onBegin(() => {
    parts.catalog?.managed?.beginShutdown();
    parts.supervisor?.beginShutdown();
    parts.engine?.halt();
    for (const stop of parts.timers.splice(0)) stop();
    schedulerStopped = parts.scheduler?.stop() ?? Promise.resolve();
  });
  sequence.add({
    name: 'stop accepting requests and scheduling',
    deadlineMs: 3_000,
    run: () => schedulerStopped,
  });
  sequence.add({
    name: 'let running tasks stop cleanly, then tell the nodes',
    deadlineMs: 8_000,
    run: async () => {
      const { engine, catalog } = parts;
      if (engine && catalog?.managed && !catalog.managed.running) {
        log.warn('the managed MariaDB is down: running tasks are reconciled at the next start');
      } else if (engine) {
        // Past this, what still runs is reconciled at the next start.
        await within(log, 5_000, 'stopping the running tasks', stopTasks(engine, parts.nodes));
      }
      if (parts.notifications) await within(log, 2_000, 'sending the last notifications', parts.notifications.idle());
      // Nodes first, with "server shutting down"; then every other connection.
      await parts.sessions?.closeAll();
      if (parts.http) await within(log, 2_000, 'closing the connections', parts.http.close());
    },
  });
  sequence.add({
    name: 'stop the supervised nodes',
    deadlineMs: 8_000,
    run: async () => parts.supervisor?.stopAll(),
    kill: () => parts.supervisor?.killAll() ?? [],
  });
  sequence.add({
    name: 'close the catalog',
    deadlineMs: 3_000,
    run: async () => {
      await parts.catalog?.catalog.close();
    },
  });
  sequence.add({
    name: 'stop the managed MariaDB',
    deadlineMs: 15_000,
    run: async () => parts.catalog?.managed?.stop(12_000),
    kill: () => parts.catalog?.managed?.kill() ?? [],
  });
  return { accepting: () => !sequence.started, run: () => sequence.run() };
}

async function stopTasks(engine: TaskEngine, nodes: NodesRepository | undefined): Promise<void> {
  await engine.stop();
  const supervised = (await nodes?.list())?.filter((n) => n.install_method === 'local-supervised').map((n) => n.id) ?? [];
  await engine.endTasksOnNodes(supervised, 4_000);
}

/** Waits for work up to ms; when it takes longer, says so and lets it go on unawaited. Its errors are logged, not thrown: the stop goes on. */
async function within(log: Logger, ms: number, what: string, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const settled = work.then(
    () => 'done' as const,
    (err: unknown) => {
      log.error({ err }, `${what} failed`);
      return 'failed' as const;
    },
  );
  if ((await Promise.race([settled, timedOut])) === 'late') log.warn(`${what} did not finish within ${ms / 1000}s; going on`);
  clearTimeout(timer);
}
