import type { PolicyKind, PolicyRun } from '@common/api/index.js';
import { Badge, Text } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { BackupTypeBadge } from '../../components/backup-type-badge.js';
import { LiveDuration } from '../../components/live-duration.js';
import { PolicyRunStateBadge } from '../../components/policy-run-state-badge.js';
import { RelativeTime } from '../../components/relative-time.js';
import { formatRunTime, POLICY_RUN_TRIGGER_LABELS } from '../../utils/policy-format.js';
import { NO_SHRINK } from '../../utils/styles.js';

const column = createColumnHelper<PolicyRun>();

/** "3 ok · 1 failed of 4"; a run that started nothing says so. */
export function describeRunVms(run: Pick<PolicyRun, 'vms' | 'succeeded' | 'failed' | 'cancelled' | 'state'>): string {
  if (run.state === 'missed') return '—';
  if (run.vms === 0) return 'No VMs';
  const parts = [`${run.succeeded} ok`];
  if (run.failed > 0) parts.push(`${run.failed} failed`);
  if (run.cancelled > 0) parts.push(`${run.cancelled} cancelled`);
  return `${parts.join(' · ')} of ${run.vms}`;
}

/** A policy's runs; a snapshot policy's runs take snapshots, whatever backup type they carry. */
export function policyRunColumns(kind: PolicyKind) {
  return [
    column.accessor('trigger', {
      header: 'Trigger',
      cell: (info) => (
        <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
          {POLICY_RUN_TRIGGER_LABELS[info.getValue()]}
        </Text>
      ),
    }),
    column.accessor('backupType', {
      header: 'Type',
      cell: (info) => {
        const type = info.getValue();
        const purpose = info.row.original.purpose;
        if (purpose === 'retention' || purpose === 'verify') {
          return (
            <Badge component="span" size="sm" variant="light" color={purpose === 'retention' ? 'grape' : 'cyan'} style={NO_SHRINK}>
              {purpose === 'retention' ? 'Retention' : 'Verify'}
            </Badge>
          );
        }
        if (kind === 'snapshot') {
          return (
            <Badge component="span" size="sm" variant="light" color="teal" style={NO_SHRINK}>
              Snapshot
            </Badge>
          );
        }
        return type === null ? (
          <Text size="sm" c="dimmed">
            —
          </Text>
        ) : (
          <BackupTypeBadge type={type} />
        );
      },
    }),
    column.accessor('scheduledFor', {
      header: 'Scheduled for',
      cell: (info) => {
        const at = info.getValue();
        return (
          <Text size="sm" c={at === null ? 'dimmed' : undefined} style={{ whiteSpace: 'nowrap' }}>
            {at === null ? '—' : formatRunTime(at)}
          </Text>
        );
      },
    }),
    column.accessor('startedAt', { header: 'Started', cell: (info) => <RelativeTime iso={info.getValue()} never="Did not start" /> }),
    column.accessor('state', { header: 'State', cell: ({ row }) => <PolicyRunStateBadge run={row.original} /> }),
    column.display({
      id: 'vms',
      header: 'VMs',
      cell: ({ row }) => (
        <Text size="sm" style={{ whiteSpace: 'nowrap' }} c={row.original.failed > 0 ? 'red' : undefined}>
          {describeRunVms(row.original)}
        </Text>
      ),
    }),
    column.display({
      id: 'duration',
      header: 'Duration',
      cell: ({ row }) => (row.original.startedAt === null ? '—' : <LiveDuration start={row.original.startedAt} end={row.original.finishedAt} />),
    }),
    column.accessor('message', {
      header: 'Message',
      cell: (info) => (
        <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }} maw={420} data-testid="policy-run-message">
          {info.getValue() ?? ''}
        </Text>
      ),
    }),
  ];
}
