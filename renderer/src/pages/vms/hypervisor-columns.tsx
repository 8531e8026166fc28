import type { Hypervisor } from '@common/api/index.js';
import { Text, VisuallyHidden } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { HypervisorStatusBadge } from '../../components/hypervisor-status-badge.js';
import { NodeLink } from '../../components/node-link.js';
import { RelativeTime } from '../../components/relative-time.js';
import { HypervisorActions } from './hypervisor-actions.js';

const column = createColumnHelper<Hypervisor>();

export const hypervisorColumns = [
  column.accessor('name', {
    header: 'Name',
    cell: (info) => (
      <Text size="sm" fw={500} style={{ whiteSpace: 'nowrap' }}>
        {info.getValue()}
      </Text>
    ),
  }),
  column.accessor('node', {
    header: 'Node',
    cell: ({ row }) => <NodeLink id={row.original.nodeId} name={row.original.node} />,
  }),
  column.accessor('uri', {
    header: 'URI',
    cell: (info) => (
      <Text size="sm" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
        {info.getValue()}
      </Text>
    ),
  }),
  column.accessor('status', { header: 'Status', cell: ({ row }) => <HypervisorStatusBadge hypervisor={row.original} /> }),
  column.accessor('vms', { header: 'VMs' }),
  column.accessor('lastSyncAt', { header: 'Last sync', cell: (info) => <RelativeTime iso={info.getValue()} never="Never" /> }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <HypervisorActions hypervisor={row.original} />,
  }),
];
