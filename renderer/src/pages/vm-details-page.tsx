import type { Backup, Vm } from '@common/api/index.js';
import { Alert, Anchor, Button, Code, Group, Paper, SimpleGrid, Skeleton, Stack, Text, Title } from '@mantine/core';
import {
  IconAlertTriangle,
  IconArchive,
  IconCpu,
  IconDatabase,
  IconDeviceFloppy,
  IconHistory,
  IconInfoCircle,
  IconRestore,
  IconShieldCheck,
  IconShieldOff,
} from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { lazy, Suspense, useCallback, useMemo, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useBackupsQuery } from '../api/backups.queries.js';
import { useVmQuery } from '../api/vms.queries.js';
import { useSession } from '../auth/session-context.js';
import { BackLink } from '../components/back-link.js';
import { DataTable } from '../components/data-table.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { ProtectionBadge } from '../components/protection-badge.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { StatTile } from '../components/stat-tile.js';
import { VmStateBadge } from '../components/vm-state-badge.js';
import { formatBytes } from '../utils/format.js';
import { describeDisks } from '../utils/vm-format.js';
import { RestoreWizard } from './vms/restore-wizard.js';
import { useBackupRuns } from './vms/use-backup-runs.js';
import { vmBackupColumns } from './vms/vm-backup-columns.js';
import { BackupNowButton, LastBackup } from './vms/vm-columns.js';
import { VmDisksTable } from './vms/vm-disks-table.js';
import { VmSnapshots } from './vms/vm-snapshots.js';

// The chart library is most of the UI's weight; it loads when a VM's page opens.
const BackupSizeChart = lazy(async () => ({ default: (await import('./vms/backup-size-chart.js')).BackupSizeChart }));

export function VmDetailsPage() {
  const ref = useParams().vm ?? '';
  const vm = useVmQuery(ref);

  if (isApiError(vm.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Virtual machine not found"
        title={`There is no virtual machine "${ref}"`}
        description="Its hypervisor may have been removed, or the link is wrong."
        back={{ to: '/vms', label: 'All virtual machines' }}
        goTo={{ to: '/vms', label: 'Go to virtual machines' }}
      />
    );
  }
  if (vm.data === undefined) {
    if (vm.isError) return <QueryErrorAlert title="Could not load the virtual machine" error={vm.error} onRetry={() => void vm.refetch()} />;
    return <Skeleton h={320} radius="md" aria-label="Loading the virtual machine" />;
  }
  // A new VM (a link from the restore wizard) starts afresh: no dialog of the previous one stays open.
  return <VmDetails key={vm.data.id} vm={vm.data} />;
}

/** Which backup the restore wizard starts from; null while it is closed. */
type RestoreTarget = { backupId: number | undefined } | null;

function VmDetails({ vm }: { vm: Vm }) {
  const { canChange } = useSession();
  const backups = useBackupsQuery({ vm: vm.uuid });
  const [params, setParams] = useSearchParams();
  // ?restore=ID (from the Backups page) opens the wizard on that backup.
  const linked = Number.parseInt(params.get('restore') ?? '', 10);
  const [restore, setRestore] = useState<RestoreTarget>(canChange && Number.isInteger(linked) ? { backupId: linked } : null);
  const history = useMemo(() => [...(backups.data ?? [])].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)), [backups.data]);
  const restorable = history.some((backup) => backup.status === 'available');
  const restoreBackup = useCallback((backup: Backup) => setRestore({ backupId: backup.id }), []);

  const closeRestore = () => {
    setRestore(null);
    if (params.has('restore')) {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          next.delete('restore');
          return next;
        },
        { replace: true },
      );
    }
  };

  return (
    <>
      <BackLink to="/vms" label="All virtual machines" />
      <PageHeader
        title={vm.name}
        description={
          <Group gap="xs" component="span">
            <VmStateBadge vm={vm} />
            <ProtectionBadge vm={vm} link />
            <span>{`on ${vm.hypervisor}`}</span>
            <Code>{vm.uuid}</Code>
            <Anchor component={Link} to={`/jobs?${new URLSearchParams({ subject: `vm:${vm.name}` }).toString()}`} size="sm">
              Its jobs
            </Anchor>
          </Group>
        }
        actions={
          canChange ? (
            <Group gap="xs">
              <BackupNowButton vm={vm} size="sm" />
              <Button
                variant="default"
                leftSection={<IconRestore size={16} aria-hidden />}
                disabled={!restorable}
                title={restorable ? 'Restore the newest backup, or choose another' : 'This VM has no backup to restore yet'}
                onClick={() => setRestore({ backupId: undefined })}
              >
                Restore
              </Button>
            </Group>
          ) : undefined
        }
      />
      <Stack>
        {!vm.present && (
          <Alert color="red" icon={<IconAlertTriangle />} title="No longer on its host" role="status">
            {vm.backups > 0
              ? `${vm.hypervisor} did not list this VM at its last sync. Its backups stay, and restore to files or as a new VM.`
              : `${vm.hypervisor} did not list this VM at its last sync, and it has no backup. It leaves this list when its hypervisor is removed.`}
          </Alert>
        )}
        <SimpleGrid cols={{ base: 1, xs: 2, md: 3, xl: 6 }}>
          <PolicyTile vm={vm} />
          <StatTile label="vCPUs" value={vm.vcpus} icon={IconCpu} />
          <StatTile label="Memory" value={formatBytes(vm.memoryBytes)} icon={IconDatabase} />
          <StatTile label="Disks" value={describeDisks(vm)} icon={IconDeviceFloppy} />
          <StatTile label="Last backup" value={<LastBackup vm={vm} />} icon={IconHistory} />
          <StatTile label="Backups" value={vm.backups} icon={IconArchive} />
        </SimpleGrid>
        <Paper withBorder radius="md" p="md" component="section" aria-labelledby="disks-heading">
          <Title order={2} size="h4" mb="sm" id="disks-heading">
            Disks
          </Title>
          <VmDisksTable vm={vm} />
        </Paper>
        <BackupHistory vm={vm} history={history} query={backups} onRestore={canChange ? restoreBackup : undefined} />
        <VmSnapshots vm={vm} />
      </Stack>
      {restore !== null && backups.isSuccess && (
        <RestoreWizard vm={vm} backups={history} initialBackupId={restore.backupId} onClose={closeRestore} />
      )}
    </>
  );
}

/** The backup policy the VM is in, as a way to it; or a plain statement that none protects it. */
function PolicyTile({ vm }: { vm: Vm }) {
  const { isAdmin } = useSession();
  if (vm.policy === null) {
    return (
      <StatTile
        label="Backup policy"
        value={
          <Text span size="md" fw={600} c="orange">
            Not protected by a policy
          </Text>
        }
        icon={IconShieldOff}
        detail={
          <Anchor component={Link} to="/policies" size="xs">
            {isAdmin ? 'Add it to a policy' : 'See the policies'}
          </Anchor>
        }
      />
    );
  }
  return (
    <StatTile
      label="Backup policy"
      value={vm.policy}
      icon={IconShieldCheck}
      to={`/policies/${encodeURIComponent(vm.policy)}`}
      linkLabel={`Backup policy: ${vm.policy}`}
      detail={<Text size="xs" c="dimmed">Backs this VM up on its schedule</Text>}
    />
  );
}

interface BackupHistoryProps {
  vm: Vm;
  history: Backup[];
  query: ReturnType<typeof useBackupsQuery>;
  onRestore: ((backup: Backup) => void) | undefined;
}

function BackupHistory({ vm, history, query, onRestore }: BackupHistoryProps) {
  const runs = useBackupRuns(vm.uuid);
  const disks = useMemo(() => vm.disks.map((disk) => disk.target), [vm.disks]);
  const columns = useMemo(() => vmBackupColumns({ runs, onRestore, disks }), [runs, onRestore, disks]);
  const table = useReactTable({
    data: history,
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (backup) => String(backup.id),
  });
  const available = useMemo(() => history.filter((backup) => backup.status === 'available'), [history]);

  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="history-heading">
      <Title order={2} size="h4" mb="sm" id="history-heading">
        Backup history
      </Title>
      {query.isPending && <Skeleton h={160} />}
      {query.isError && <QueryErrorAlert title="Could not load the backups" error={query.error} onRetry={() => void query.refetch()} />}
      {query.isSuccess && history.length === 0 && (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          {`No backup of ${vm.name} yet. The first one is full; later ones read only what changed since.`}
        </Alert>
      )}
      {available.length > 0 && (
        <Suspense fallback={<Skeleton h={240} mb="md" aria-label="Loading the chart" />}>
          <BackupSizeChart backups={available} runs={runs} />
        </Suspense>
      )}
      {history.length > 0 && (
        <>
          <DataTable table={table} label={`Backups of ${vm.name}`} minWidth={860} />
          <Text size="xs" c="dimmed" mt="xs">
            Logical size: the VM&apos;s disk data a backup covers. Stored: what it takes on the destination after deduplication and
            compression. Read: what it read from the disks, only the changed data for an incremental. Read and duration come from
            the backup&apos;s tasks, while they are kept.
          </Text>
        </>
      )}
    </Paper>
  );
}
