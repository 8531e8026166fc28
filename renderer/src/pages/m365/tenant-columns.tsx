import type { M365Tenant } from '@common/api/index.js';
import { Anchor, Text, VisuallyHidden } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { NodeLink } from '../../components/node-link.js';
import { RelativeTime } from '../../components/relative-time.js';
import { TenantActions } from './tenant-actions.js';
import { ConnectionBadge, SyncBadge } from './tenant-badges.js';

const column = createColumnHelper<M365Tenant>();

export const tenantColumns = [
  column.accessor('name', {
    header: 'Name',
    cell: ({ row }) => (
      <Anchor component={Link} to={`/m365/${row.original.id}`} size="sm" fw={500}>
        {row.original.name}
      </Anchor>
    ),
  }),
  column.accessor('tenantId', {
    header: 'Tenant ID',
    cell: (info) => (
      <Text size="sm" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
        {info.getValue()}
      </Text>
    ),
  }),
  column.accessor('node', {
    header: 'Node',
    cell: ({ row }) => <NodeLink id={row.original.nodeId} name={row.original.node} />,
  }),
  column.display({ id: 'connection', header: 'Connection', cell: ({ row }) => <ConnectionBadge tenant={row.original} /> }),
  column.accessor('syncState', { header: 'Status', cell: ({ row }) => <SyncBadge tenant={row.original} /> }),
  column.accessor('users', { header: 'Users' }),
  column.accessor('sites', { header: 'Sites' }),
  column.accessor('lastSyncAt', { header: 'Last sync', cell: (info) => <RelativeTime iso={info.getValue()} never="Never" /> }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <TenantActions tenant={row.original} compact />,
  }),
];
