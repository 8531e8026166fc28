import { isFinalState, type TaskState } from '../../../common/api/tasks.js';
import type { Sql } from '../db/catalog.js';
import type { TaskRow, TasksRepository } from './tasks.repository.js';
import { SERVER_TASK_TYPES } from './task-types.js';

/** When a workflow step ends: cancel the rest after a failure, or pin the next step to the same node. */
export async function settleWorkflow(tasks: TasksRepository, row: TaskRow, state: TaskState, tx: Sql): Promise<number[]> {
  if (row.workflow_id === null) return [];
  const steps = await tasks.workflowTasks(row.workflow_id, tx);
  const touched: number[] = [];
  if (state === 'FAILED' || state === 'CANCELLED') {
    for (const s of steps) {
      if (s.id === row.id || isFinalState(s.state)) continue;
      await tasks.finish(s.id, { state: 'CANCELLED', error: `an earlier step (${row.type} task ${row.id}) ${state === 'FAILED' ? 'failed' : 'was cancelled'}` }, tx);
      touched.push(s.id);
    }
    await tasks.setWorkflowState(row.workflow_id, state, tx);
    return touched;
  }
  const next = steps.find((s) => s.depends_on === row.id);
  if (next && row.node_id !== null && next.required_node_id === null && !SERVER_TASK_TYPES.has(next.type)) {
    await tasks.setRequiredNode(next.id, row.node_id, tx);
  }
  const states = steps.map((s) => (s.id === row.id ? state : s.state));
  if (states.every((s) => isFinalState(s))) {
    await tasks.setWorkflowState(row.workflow_id, states.includes('FINISHED_WITH_WARNINGS') ? 'FINISHED_WITH_WARNINGS' : 'FINISHED', tx);
  } else {
    await tasks.setWorkflowState(row.workflow_id, 'RUNNING', tx);
  }
  return touched;
}
