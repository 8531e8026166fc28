import type { Policy } from '@common/api/index.js';
import { Anchor, Badge, Code, Group, Stack, Text, VisuallyHidden } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { BackupTypeBadge } from '../../components/backup-type-badge.js';
import { PolicyRunStateBadge } from '../../components/policy-run-state-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { POLICY_KIND_COLORS, POLICY_KIND_LABELS } from '../../utils/policy-format.js';
import { describeSnapshotRetention } from '../../utils/snapshot-format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { RunNowButton } from './run-now-button.js';

const column = createColumnHelper<Policy>();

export const policyPath = (policy: Pick<Policy, 'id'>): string => `/policies/${policy.id}`;

export function EnabledBadge({ enabled }: { enabled: boolean }) {
  return (
    <Badge component="span" variant={enabled ? 'light' : 'outline'} color={enabled ? 'green' : 'gray'} style={NO_SHRINK} data-enabled={enabled}>
      {enabled ? 'Enabled' : 'Disabled'}
    </Badge>
  );
}

export function PolicyKindBadge({ kind }: { kind: Policy['kind'] }) {
  return (
    <Badge component="span" variant="outline" color={POLICY_KIND_COLORS[kind]} style={NO_SHRINK} data-kind={kind}>
      {`${POLICY_KIND_LABELS[kind]} policy`}
    </Badge>
  );
}

/** When the policy runs next, and which backup that will be. */
export function NextRun({ policy }: { policy: Pick<Policy, 'nextRun' | 'enabled' | 'schedules'> }) {
  if (policy.nextRun === null) {
    return (
      <Text size="sm" c="dimmed">
        {!policy.enabled ? 'Disabled' : policy.schedules.length === 0 ? 'Only when run by hand' : '—'}
      </Text>
    );
  }
  return (
    <Group gap={6} wrap="nowrap">
      <RelativeTime iso={policy.nextRun.at} />
      {policy.nextRun.backupType !== null && <BackupTypeBadge type={policy.nextRun.backupType} size="xs" />}
    </Group>
  );
}

export const policyColumns = [
  column.accessor('name', {
    header: 'Name',
    cell: ({ row }) => (
      <Anchor component={Link} to={policyPath(row.original)} size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
        {row.original.name}
      </Anchor>
    ),
  }),
  column.accessor('kind', {
    header: 'Kind',
    cell: ({ row }) => (
      <Badge component="span" size="sm" variant="light" color={POLICY_KIND_COLORS[row.original.kind]} style={NO_SHRINK} data-kind={row.original.kind}>
        {POLICY_KIND_LABELS[row.original.kind]}
      </Badge>
    ),
  }),
  column.accessor('destination', {
    header: 'Destination',
    cell: ({ row }) =>
      row.original.kind === 'snapshot' ? (
        // Snapshots stay on the VMs' hosts: what matters is how many.
        <Stack gap={0}>
          <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
            On the VMs’ hosts
          </Text>
          <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
            {describeSnapshotRetention(row.original.retention?.keepLast).toLowerCase()}
          </Text>
        </Stack>
      ) : row.original.destinationId === null ? (
        <Text size="sm" c="dimmed">
          —
        </Text>
      ) : (
        <Anchor component={Link} to={`/destinations/${row.original.destinationId}`} size="sm">
          {row.original.destination ?? `Destination ${row.original.destinationId}`}
        </Anchor>
      ),
  }),
  column.accessor('schedules', {
    header: 'Schedules',
    cell: (info) =>
      info.getValue().length === 0 ? (
        <Text size="sm" c="dimmed">
          None
        </Text>
      ) : (
        <Stack gap={2} align="flex-start">
          {info.getValue().map((rule) => (
            <Code key={rule} style={{ whiteSpace: 'nowrap' }}>
              {rule}
            </Code>
          ))}
        </Stack>
      ),
  }),
  // An m365 policy's members are users and sites: counted here too, as what its runs back up.
  column.display({ id: 'vms', header: 'VMs', cell: ({ row }) => (row.original.kind === 'm365' ? `${row.original.m365Members?.length ?? 0} users and sites` : row.original.vms.length) }),
  column.accessor('nextRun', { header: 'Next run', cell: ({ row }) => <NextRun policy={row.original} /> }),
  column.accessor('lastRun', {
    header: 'Last run',
    cell: ({ row }) => {
      const run = row.original.lastRun;
      if (run === null) {
        return (
          <Text size="sm" c="dimmed">
            Never
          </Text>
        );
      }
      return (
        <Group gap={6} wrap="nowrap">
          <PolicyRunStateBadge run={run} />
          <RelativeTime iso={run.finishedAt ?? run.startedAt ?? run.scheduledFor} size="xs" />
        </Group>
      );
    },
  }),
  column.accessor('enabled', { header: 'Enabled', cell: (info) => <EnabledBadge enabled={info.getValue()} /> }),
  column.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => <RunNowButton policy={row.original} size="xs" />,
  }),
];
