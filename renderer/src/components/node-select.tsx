import type { Node } from '@common/api/index.js';
import { Alert, Anchor, Select, type SelectProps } from '@mantine/core';
import { IconServerOff } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { NODE_STATUS_LABELS } from '../utils/task-labels.js';

/** Online nodes first (work is sent to them at once), the others shown but not choosable. */
export function nodeOptions(nodes: readonly Node[]) {
  const online = nodes.filter((node) => node.status === 'online');
  const others = nodes.filter((node) => node.status !== 'online');
  const groups = [];
  if (online.length > 0) groups.push({ group: 'Online', items: online.map((node) => ({ value: String(node.id), label: node.name })) });
  if (others.length > 0) {
    groups.push({
      group: 'Not online',
      items: others.map((node) => ({ value: String(node.id), label: `${node.name} (${NODE_STATUS_LABELS[node.status].toLowerCase()})`, disabled: true })),
    });
  }
  return groups;
}

/** The "Node" picker of the forms that send work to a node; pass the form's input props. */
export function NodeSelect({ nodes, loading, label = 'Node', ...props }: { nodes: readonly Node[] | undefined; loading: boolean } & Omit<SelectProps, 'data'>) {
  return (
    <Select
      label={label}
      placeholder={loading ? 'Loading nodes…' : 'Choose a node'}
      data={nodeOptions(nodes ?? [])}
      allowDeselect={false}
      searchable
      nothingFoundMessage="No node with that name"
      {...props}
    />
  );
}

/** Shown where a form needs a node and none is installed yet. */
export function NoNodeAlert({ children }: { children: ReactNode }) {
  return (
    <Alert color="yellow" icon={<IconServerOff />} title="No node yet">
      {children} <Anchor component={Link} to="/nodes/install">Install a node</Anchor> first.
    </Alert>
  );
}
