import { isFinalState, type Snapshot, type Vm } from '@common/api/index.js';
import { Alert, Anchor, Badge, Button, CloseButton, Code, Group, Paper, Skeleton, Stack, Text, Title, Tooltip, VisuallyHidden } from '@mantine/core';
import { IconArrowBackUp, IconCamera, IconInfoCircle, IconTrash } from '@tabler/icons-react';
import { useQueryClient } from '@tanstack/react-query';
import { createColumnHelper, getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { usePoliciesQuery } from '../../api/policies.queries.js';
import { applySnapshotTask } from '../../api/snapshot-cache.js';
import { useVmSnapshotsQuery } from '../../api/snapshots.queries.js';
import { useTaskQuery } from '../../api/tasks.queries.js';
import { useSession } from '../../auth/session-context.js';
import { DataTable } from '../../components/data-table.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { RelativeTime } from '../../components/relative-time.js';
import { describeSnapshotState, snapshotPolicyId } from '../../utils/snapshot-format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { DeleteSnapshotDialog, RevertSnapshotDialog, TakeSnapshotDialog, type StartedSnapshotTask } from './snapshot-dialogs.js';
import { SnapshotTaskFollow } from './snapshot-task-follow.js';

const column = createColumnHelper<Snapshot>();

interface SnapshotColumnsOptions {
  /** Policy names by id, to say which policy took a snapshot. */
  policies: ReadonlyMap<number, string>;
  /** Absent for viewers: they see the snapshots, not the actions. */
  onRevert?: (snapshot: Snapshot) => void;
  onDelete?: (snapshot: Snapshot) => void;
}

function snapshotColumns({ policies, onRevert, onDelete }: SnapshotColumnsOptions) {
  const columns = [
    column.accessor('name', {
      header: 'Name',
      cell: ({ row }) => {
        const policyId = snapshotPolicyId(row.original.name);
        const policy = policyId === null ? undefined : policies.get(policyId);
        return (
          <Stack gap={2} align="flex-start">
            <Code style={{ overflowWrap: 'anywhere' }}>{row.original.name}</Code>
            {policyId !== null && (
              <Text size="xs" c="dimmed">
                {'Taken by policy '}
                {policy === undefined ? (
                  `#${policyId}`
                ) : (
                  <Anchor component={Link} to={`/policies/${policyId}`} size="xs">
                    {policy}
                  </Anchor>
                )}
              </Text>
            )}
          </Stack>
        );
      },
    }),
    column.accessor('createdAt', { header: 'Created', cell: (info) => <RelativeTime iso={info.getValue()} /> }),
    column.accessor('state', {
      header: 'Captured state',
      cell: (info) => {
        const view = describeSnapshotState(info.getValue());
        return (
          <Tooltip label={view.detail}>
            <Badge component="span" size="sm" variant="light" color={view.color} style={NO_SHRINK} tabIndex={0}>
              {view.label}
            </Badge>
          </Tooltip>
        );
      },
    }),
    column.accessor('current', {
      header: 'Current',
      cell: (info) =>
        info.getValue() ? (
          <Tooltip label="libvirt's current snapshot: the last one taken or reverted to">
            <Badge component="span" size="sm" variant="filled" color="blue" style={NO_SHRINK} tabIndex={0} data-testid="current-snapshot">
              Current
            </Badge>
          </Tooltip>
        ) : null,
    }),
  ];
  if (onRevert === undefined || onDelete === undefined) return columns;
  return [
    ...columns,
    column.display({
      id: 'actions',
      header: () => <VisuallyHidden>Actions</VisuallyHidden>,
      cell: ({ row }) => (
        <Group gap={6} wrap="nowrap" justify="flex-end">
          <Button
            size="xs"
            variant="default"
            leftSection={<IconArrowBackUp size={14} aria-hidden />}
            onClick={() => onRevert(row.original)}
            title={`Put the VM back to ${row.original.name}`}
            style={NO_SHRINK}
          >
            Revert…
          </Button>
          <Button
            size="xs"
            variant="subtle"
            color="red"
            leftSection={<IconTrash size={14} aria-hidden />}
            onClick={() => onDelete(row.original)}
            title={`Delete snapshot ${row.original.name}`}
            style={NO_SHRINK}
          >
            Delete
          </Button>
        </Group>
      ),
    }),
  ];
}

type SnapshotDialog = { kind: 'take' } | { kind: 'revert'; snapshot: Snapshot } | { kind: 'delete'; snapshot: Snapshot } | null;

/**
 * A task whose dialog was closed before it ended: followed here, so how it ends (above all a
 * failure) is seen without going to the Tasks page. A success goes away by itself: the list
 * below shows it.
 */
function BackgroundTask({ started, onDismiss }: { started: StartedSnapshotTask; onDismiss: () => void }) {
  const queryClient = useQueryClient();
  const task = useTaskQuery(started.taskId).data;
  const ended = task !== undefined && isFinalState(task.state) ? task : undefined;
  useEffect(() => {
    if (ended === undefined) return;
    // With the socket down the task is polled, and no event writes its end into the list.
    applySnapshotTask(queryClient, ended);
    if (ended.state === 'FINISHED') onDismiss();
  }, [ended?.state]);
  if (task?.state === 'FINISHED') return null;
  return (
    <Paper withBorder radius="sm" p="sm" role="group" aria-label={started.label}>
      <SnapshotTaskFollow
        taskId={started.taskId}
        label={started.label}
        title={started.label}
        errorTitle={`${started.label}: failed`}
        endAction={<CloseButton size="sm" aria-label={`Dismiss: ${started.label}`} onClick={onDismiss} />}
      />
    </Paper>
  );
}

/**
 * The VM's libvirt snapshots, newest first, with taking one, reverting to one and deleting
 * one for operators. Each action is a SNAPSHOT task on the VM's node, followed in its dialog.
 */
export function VmSnapshots({ vm }: { vm: Vm }) {
  const { canChange } = useSession();
  const snapshots = useVmSnapshotsQuery(vm);
  const policies = usePoliciesQuery();
  const [dialog, setDialog] = useState<SnapshotDialog>(null);
  const [background, setBackground] = useState<StartedSnapshotTask[]>([]);

  const rows = useMemo(
    () => [...(snapshots.data ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.name.localeCompare(a.name)),
    [snapshots.data],
  );
  const policyNames = useMemo(() => new Map((policies.data ?? []).map((policy) => [policy.id, policy.name])), [policies.data]);
  const actionable = canChange && vm.present;
  const columns = useMemo(
    () =>
      snapshotColumns({
        policies: policyNames,
        ...(actionable
          ? { onRevert: (snapshot: Snapshot) => setDialog({ kind: 'revert', snapshot }), onDelete: (snapshot: Snapshot) => setDialog({ kind: 'delete', snapshot }) }
          : {}),
      }),
    [policyNames, actionable],
  );
  const table = useReactTable({ data: rows, columns, getCoreRowModel: getCoreRowModel(), getRowId: (snapshot) => snapshot.name });

  const closeDialog = (running: StartedSnapshotTask | null) => {
    setDialog(null);
    if (running !== null) setBackground((current) => [...current.filter((task) => task.taskId !== running.taskId), running]);
  };
  const dismiss = (taskId: number) => setBackground((current) => current.filter((task) => task.taskId !== taskId));

  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="snapshots-heading">
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4" id="snapshots-heading">
          Snapshots
        </Title>
        {canChange && (
          <Button
            size="xs"
            variant="default"
            leftSection={<IconCamera size={14} aria-hidden />}
            disabled={!vm.present}
            title={vm.present ? `Take a snapshot of ${vm.name} now` : `${vm.name} is no longer on its host`}
            onClick={() => setDialog({ kind: 'take' })}
          >
            Take snapshot
          </Button>
        )}
      </Group>
      <Text size="sm" c="dimmed" mb="sm">
        States of the VM kept by libvirt inside its qcow2 disk images on {vm.hypervisor}: quick to take and to go back to, but not a backup,
        since they are lost with the disks.
      </Text>
      <Stack gap="sm">
        {background.map((started) => (
          <BackgroundTask key={started.taskId} started={started} onDismiss={() => dismiss(started.taskId)} />
        ))}
        {!vm.present && (
          <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
            {`${vm.name} is no longer on ${vm.hypervisor}, so it has no snapshots to list.`}
          </Alert>
        )}
        {vm.present && snapshots.isPending && <Skeleton h={96} aria-label="Loading the snapshots" />}
        {snapshots.isError && <QueryErrorAlert title="Could not list the snapshots" error={snapshots.error} onRetry={() => void snapshots.refetch()} />}
        {snapshots.isSuccess && rows.length === 0 && (
          <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
            {`${vm.name} has no snapshot.${canChange ? ' Take one before a risky change, to be able to go back.' : ''}`}
          </Alert>
        )}
        {rows.length > 0 && <DataTable table={table} label={`Snapshots of ${vm.name}`} minWidth={760} />}
      </Stack>
      {dialog?.kind === 'take' && <TakeSnapshotDialog vm={vm} existing={rows.map((snapshot) => snapshot.name)} onClose={closeDialog} />}
      {dialog?.kind === 'revert' && <RevertSnapshotDialog vm={vm} snapshot={dialog.snapshot} onClose={closeDialog} />}
      {dialog?.kind === 'delete' && <DeleteSnapshotDialog vm={vm} snapshot={dialog.snapshot} onClose={closeDialog} />}
    </Paper>
  );
}
