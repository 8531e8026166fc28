import type { Task } from '@common/api/index.js';
import { Anchor, Code, Table } from '@mantine/core';
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { LiveDuration } from '../../components/live-duration.js';
import { formatDateTime } from '../../utils/format.js';
import { TASK_TYPE_LABELS } from '../../utils/task-labels.js';

/** The node a task ran on, or the node it is about (install, upgrade and removal run on the server). */
export function taskNodeId(task: Task): number | null {
  if (task.nodeId !== null) return task.nodeId;
  const fromParams = task.params['nodeId'];
  return typeof fromParams === 'number' ? fromParams : null;
}

function NodeValue({ task }: { task: Task }) {
  const nodeId = taskNodeId(task);
  if (task.nodeId === null && nodeId === null) return <>The server</>;
  const name = task.node ?? task.subject?.replace(/^node:/, '') ?? `Node ${nodeId}`;
  const link = (
    <Anchor component={Link} to={`/nodes/${nodeId}`} size="sm">
      {name}
    </Anchor>
  );
  return task.nodeId === null ? <>The server, for node {link}</> : link;
}

function Json({ value }: { value: unknown }) {
  return (
    <Code block style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
      {JSON.stringify(value, null, 2)}
    </Code>
  );
}

/** Everything the API says about a task, as a two-column table. */
export function TaskFields({ task }: { task: Task }) {
  const rows: Array<[string, ReactNode]> = [
    ['Type', TASK_TYPE_LABELS[task.type]],
    ['Subject', task.subject ?? '—'],
    ['Runs on', <NodeValue key="node" task={task} />],
    ['Priority', task.priority],
    ['Attempt', `${task.attempt} of ${task.maxAttempts}`],
    ['Workflow', task.workflowId ?? '—'],
    ['Created', `${formatDateTime(task.createdAt)}${task.createdBy === null ? '' : ` by ${task.createdBy}`}`],
    ['Started', formatDateTime(task.startedAt, 'Not yet')],
    ['Finished', formatDateTime(task.finishedAt, 'Not yet')],
    ['Duration', <LiveDuration key="duration" start={task.startedAt} end={task.finishedAt} />],
    ['Parameters', Object.keys(task.params).length === 0 ? '—' : <Json key="params" value={task.params} />],
    ['Result', task.result === null ? '—' : <Json key="result" value={task.result} />],
  ];
  return (
    <Table variant="vertical" layout="fixed" withRowBorders aria-label="Task details">
      <Table.Tbody>
        {rows.map(([label, value]) => (
          <Table.Tr key={label}>
            <Table.Th w={160}>{label}</Table.Th>
            <Table.Td>{value}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
