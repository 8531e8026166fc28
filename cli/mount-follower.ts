import type { Mount, MountState, TaskDetails } from '../common/api/index.js';
import type { EventStream } from './client/event-stream.js';
import { follow, type FollowContext, type FollowOptions } from './follower.js';
import { BarView } from './progress.js';
import { TaskView } from './task-follower.js';

/**
 * `mount start --wait`, `mount wait` and `mount stop --wait`: follow a mount
 * until it is ready (MOUNTED, or it failed or was closed first) or closed.
 * A mount is held open by its MOUNT task, which stays RUNNING for as long as
 * the mount lives: so the end is read from the mount's state, while the
 * task's progress and log show what the node is doing meanwhile. Live over
 * the events WebSocket when it can be had, polling when not (follower.ts).
 */

/** What following a mount needs of the server; ApiClient provides it, tests fake it. */
export interface MountSource {
  getMount(id: number): Promise<Mount>;
  getTask(id: number): Promise<TaskDetails>;
  openEvents(): Promise<EventStream>;
}

export type MountGoal = 'ready' | 'closed';

/** Where a state is in a mount's life: an event older than a read never takes it back. */
const LIFE: Readonly<Record<MountState, number>> = { MOUNTING: 0, MOUNTED: 1, CLOSING: 2, CLOSED: 3, FAILED: 3 };

/** Whether following toward the goal is over in this state. */
export function mountSettled(state: MountState, goal: MountGoal): boolean {
  return goal === 'ready' ? state !== 'MOUNTING' : state === 'CLOSED' || state === 'FAILED';
}

/**
 * Follows the mount until it settles and returns it as it is then. While it
 * is being made, its MOUNT task is shown as `task wait` shows a task; while
 * it closes, only the mount is read. Ctrl-C stops the waiting, not the mount.
 */
export async function followMount(ctx: FollowContext, source: MountSource, start: Mount, goal: MountGoal, options: FollowOptions = {}): Promise<Mount> {
  if (mountSettled(start.state, goal)) return start;
  const now = options.now ?? Date.now;
  const tty = options.tty ?? ctx.stderr.isTTY === true;
  const taskId = goal === 'ready' ? start.taskId : null;
  const view = taskId === null ? new BarView(ctx, tty, now) : new TaskView(ctx, taskId, tty, now);
  const words = {
    name: () => `mount ${start.id}`,
    resume: () => (goal === 'ready' ? `vplus mount wait ${start.id}` : `vplus mount show ${start.id}`),
    stopped: () =>
      goal === 'ready'
        ? `stopped waiting for mount ${start.id}, which goes on; follow it with vplus mount wait ${start.id}, or close it with vplus mount stop ${start.id}`
        : `stopped waiting for mount ${start.id} to close, which goes on; see it with vplus mount show ${start.id}`,
  };
  if (goal === 'closed') view.note(`Waiting for node ${start.node} to close mount ${start.id}…`);
  return follow(ctx, view, words, { ...options, now }, async (follower) => {
    await follower.listen(
      source.openEvents(),
      (e) => (e.type === 'mount' && e.mount.id === start.id) || (taskId !== null && ((e.type === 'task' && e.task.id === taskId) || (e.type === 'task.log' && e.taskId === taskId))),
    );
    let mount = start;
    await follower.run({
      ended: () => mountSettled(mount.state, goal),
      read: async () => {
        mount = await follower.call(() => source.getMount(start.id));
        if (taskId !== null && view instanceof TaskView) {
          const task = await follower.tryCall(() => source.getTask(taskId), `task ${taskId}`);
          if (task) view.snapshot(task, true);
        }
      },
      take: (event) => {
        if (event.type === 'mount') {
          if (LIFE[event.mount.state] >= LIFE[mount.state]) mount = event.mount;
          return false;
        }
        if (!(view instanceof TaskView)) return false;
        if (event.type === 'task') view.update(event.task);
        if (event.type === 'task.log') view.liveLog(event.line);
        return false;
      },
    });
    view.abandon();
    return mount;
  });
}
