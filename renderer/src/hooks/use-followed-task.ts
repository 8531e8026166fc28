import { isFinalState, type TaskDetails } from '@common/api/index.js';
import { useEffect, useState } from 'react';
import { useTaskQuery } from '../api/tasks.queries.js';

/**
 * A task a button started (or one started elsewhere, `initial`), followed until it ends: the
 * button spins while `running`, and `onEnd` hears of the ended task once.
 */
export function useFollowedTask(onEnd: (task: TaskDetails) => void, initial: number | null = null): { running: boolean; follow: (taskId: number | null) => void } {
  const [taskId, setTaskId] = useState<number | null>(initial);
  const task = useTaskQuery(taskId ?? 0, taskId !== null);
  const running = taskId !== null && (task.data === undefined || !isFinalState(task.data.state));
  useEffect(() => {
    const done = task.data;
    if (taskId === null || done === undefined || done.id !== taskId || !isFinalState(done.state)) return;
    onEnd(done);
    setTaskId(null);
  }, [task.data?.state, taskId]);
  return { running, follow: setTaskId };
}
