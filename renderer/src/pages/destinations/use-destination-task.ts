import { isFinalState, type Destination, type TaskDetails, type TaskState } from '@common/api/index.js';
import { useState } from 'react';
import { useDestinationActionMutation, type DestinationAction } from '../../api/destinations.queries.js';
import { useTaskQuery } from '../../api/tasks.queries.js';

export interface DestinationTask {
  start: (request: DestinationAction) => void;
  /** The task this dialog started, followed live; null before the first start. */
  taskId: number | null;
  state: TaskState | null;
  task: TaskDetails | undefined;
  succeeded: boolean;
  running: boolean;
  ended: boolean;
  starting: boolean;
  /** Why the server refused to start it. */
  error: unknown;
  /** Back to the form, for another run. */
  reset: () => void;
}

/** One maintenance task started from a dialog and followed there until it ends. */
export function useDestinationTask(destination: Pick<Destination, 'id'>): DestinationTask {
  const mutation = useDestinationActionMutation();
  const [taskId, setTaskId] = useState<number | null>(null);
  const task = useTaskQuery(taskId ?? 0, taskId !== null);
  const state = taskId === null ? null : (task.data?.state ?? null);
  const ended = state !== null && isFinalState(state);
  return {
    start: (request) => mutation.mutate({ destinationId: destination.id, request }, { onSuccess: (started) => setTaskId(started.id) }),
    taskId,
    state,
    task: taskId === null ? undefined : task.data,
    succeeded: state === 'FINISHED' || state === 'FINISHED_WITH_WARNINGS',
    running: taskId !== null && !ended,
    ended,
    starting: mutation.isPending,
    error: mutation.error,
    reset: () => {
      mutation.reset();
      setTaskId(null);
    },
  };
}
