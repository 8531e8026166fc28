import type { Task } from '@common/api/index.js';
import { Anchor, Table } from '@mantine/core';
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { LiveDuration } from '../../components/live-duration.js';
import { formatDateTime } from '../../utils/format.js';
import { subjectLabel } from '../../utils/subject-label.js';
import { TASK_TYPE_LABELS } from '../../utils/task-labels.js';
import { TaskValues } from './task-values.js';

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


/** Everything the API says about a task, as a two-column table. */
export function TaskFields({ task }: { task: Task }) {
  const rows: Array<[string, ReactNode]> = [
    ['Type', TASK_TYPE_LABELS[task.type]],
    ['Subject', subjectLabel(task) ?? '—'],
    ['Runs on', <NodeValue key="node" task={task} />],
    ['Priority', task.priority],
    ['Attempt', `${task.attempt} of ${task.maxAttempts}`],
    [
      'Job',
      task.workflowId === null ? (
        '—'
      ) : (
        <Anchor key="job" component={Link} to={`/jobs/w${task.workflowId}`} size="sm">
          {`Job w${task.workflowId}`}
        </Anchor>
      ),
    ],
    ['Created', `${formatDateTime(task.createdAt)}${task.createdBy === null ? '' : ` by ${task.createdBy}`}`],
    ['Started', formatDateTime(task.startedAt, 'Not yet')],
    ['Finished', formatDateTime(task.finishedAt, 'Not yet')],
    ['Duration', <LiveDuration key="duration" start={task.startedAt} end={task.finishedAt} />],
    ['Parameters', Object.keys(task.params).length === 0 ? '—' : <TaskValues key="params" values={task.params} label="Parameters" />],
    ['Result', task.result === null ? '—' : <TaskValues key="result" values={task.result} label="Result" />],
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
