import { describe, expect, it } from 'vitest';
import type { TaskState, TaskType } from '../../../common/api/tasks.js';
import type { Sql } from '../../../electron/server/db/catalog.js';
import { settleWorkflow } from '../../../electron/server/tasks/workflow-settle.js';
import type { TaskRow, TasksRepository } from '../../../electron/server/tasks/tasks.repository.js';
import { taskRow } from './policy-fakes.js';

/**
 * The task engine's rule for a workflow when one of its steps ends (the one part of the
 * engine that does not need the catalog; the rest is covered by
 * tests/integration/tasks/task-engine.test.ts), over a tasks table in memory.
 */
function workflow(steps: [TaskType, TaskState][]) {
  const rows: TaskRow[] = steps.map(([type, state], i) => ({ ...taskRow(i + 1, 42, i, type, state), depends_on: i === 0 ? null : i }));
  const workflowStates: TaskState[] = [];
  const pinned: [number, number][] = [];
  const repo = {
    workflowTasks: async () => rows,
    finish: async (id: number, f: { state: TaskState; error?: string | null }) => {
      const row = rows.find((r) => r.id === id)!;
      row.state = f.state;
      row.error = f.error ?? null;
    },
    setWorkflowState: async (_id: number, state: TaskState) => void workflowStates.push(state),
    setRequiredNode: async (id: number, nodeId: number) => void pinned.push([id, nodeId]),
  };
  /** Step `n` (1-based) ends in `state` on `nodeId`. */
  const end = (n: number, state: TaskState, nodeId: number | null = 3) => {
    const row = { ...rows[n - 1]!, node_id: nodeId };
    rows[n - 1]!.state = state;
    return settleWorkflow(repo as unknown as TasksRepository, row, state, {} as Sql);
  };
  return { rows, workflowStates, pinned, end };
}

describe('settling a workflow when a step ends', () => {
  it('pins the next step to the node the finished one ran on, and the workflow runs on', async () => {
    const w = workflow([
      ['EXPORT', 'RUNNING'],
      ['STORE', 'QUEUED'],
    ]);
    expect(await w.end(1, 'FINISHED')).toEqual([]);
    expect(w.pinned).toEqual([[2, 3]]);
    expect(w.workflowStates).toEqual(['RUNNING']);
  });

  it('finishes the workflow with the last step, with warnings when any step had them', async () => {
    const w = workflow([
      ['PRUNE', 'FINISHED_WITH_WARNINGS'],
      ['GC', 'RUNNING'],
    ]);
    await w.end(2, 'FINISHED');
    expect(w.workflowStates).toEqual(['FINISHED_WITH_WARNINGS']);
  });

  it('a failed step cancels the open rest, saying which step failed, and fails the workflow', async () => {
    const w = workflow([
      ['PRUNE', 'RUNNING'],
      ['GC', 'QUEUED'],
    ]);
    expect(await w.end(1, 'FAILED')).toEqual([2]);
    expect(w.rows[1]).toMatchObject({ state: 'CANCELLED', error: 'an earlier step (PRUNE task 1) failed' });
    expect(w.workflowStates).toEqual(['FAILED']);
    expect(w.pinned).toEqual([]);
  });

  it('a cancelled step cancels the rest and the workflow', async () => {
    const w = workflow([
      ['EXPORT', 'QUEUED'],
      ['STORE', 'QUEUED'],
    ]);
    expect(await w.end(1, 'CANCELLED', null)).toEqual([2]);
    expect(w.rows[1]!.error).toBe('an earlier step (EXPORT task 1) was cancelled');
    expect(w.workflowStates).toEqual(['CANCELLED']);
  });

  it('does not pin a step that already has its node, nor a step the server runs itself', async () => {
    const preset = workflow([
      ['EXPORT', 'RUNNING'],
      ['STORE', 'QUEUED'],
    ]);
    preset.rows[1]!.required_node_id = 8;
    await preset.end(1, 'FINISHED');
    const serverStep = workflow([
      ['NODE_CHECK', 'RUNNING'],
      ['NODE_UPGRADE', 'QUEUED'],
    ]);
    await serverStep.end(1, 'FINISHED');
    expect([...preset.pinned, ...serverStep.pinned]).toEqual([]);
  });
});
