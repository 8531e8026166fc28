import type { Hypervisor, Vm } from '@common/api/index.js';
import { Alert, Button, Group, Pagination, Paper, Select, Skeleton, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconDeviceDesktop, IconFilterOff, IconInfoCircle, IconPlus, IconSearch } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useMemo, useState, type ReactNode } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { useHypervisorsQuery } from '../api/hypervisors.queries.js';
import { useVmsQuery } from '../api/vms.queries.js';
import { useSession } from '../auth/session-context.js';
import { DataTable } from '../components/data-table.js';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { compareVms, countVms, vmMatchesSearch } from '../utils/vm-format.js';
import { AddHypervisorModal } from './vms/add-hypervisor-modal.js';
import { hypervisorColumns } from './vms/hypervisor-columns.js';
import { vmColumns } from './vms/vm-columns.js';

function AddHypervisorButton({ onClick }: { onClick: () => void }) {
  return (
    <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={onClick}>
      Add hypervisor
    </Button>
  );
}

export function VirtualMachinesPage() {
  const { isAdmin } = useSession();
  const hypervisors = useHypervisorsQuery();
  // ?add=1 (the dashboard's getting-started checklist) opens the form at once.
  const [params] = useSearchParams();
  const [adding, setAdding] = useState(params.has('add'));
  const empty = hypervisors.isSuccess && hypervisors.data.length === 0;
  const addButton = isAdmin ? <AddHypervisorButton onClick={() => setAdding(true)} /> : undefined;

  return (
    <>
      <PageHeader
        title="Virtual machines"
        description="The KVM hosts your nodes serve, and their virtual machines with state, disks, last backup and protection."
      />
      {hypervisors.isPending && <Skeleton h={180} radius="md" />}
      {hypervisors.isError && (
        <QueryErrorAlert title="Could not load hypervisors" error={hypervisors.error} onRetry={() => void hypervisors.refetch()} />
      )}
      {empty && (
        <EmptyState
          icon={IconDeviceDesktop}
          title="No hypervisor yet"
          description={
            isAdmin
              ? 'Add a KVM host by the node installed on it (install one under Nodes first). Its virtual machines are listed here, with their disks, state and backups, and kept current.'
              : 'Virtual machines are discovered from the KVM hosts an administrator adds. They appear here with their disks, state and backups.'
          }
          actions={addButton}
        />
      )}
      {hypervisors.isSuccess && !empty && (
        <Stack>
          <HypervisorsSection hypervisors={hypervisors.data} actions={addButton} />
          <VmsSection hypervisors={hypervisors.data} />
        </Stack>
      )}
      {adding && <AddHypervisorModal onClose={() => setAdding(false)} />}
    </>
  );
}

function HypervisorsSection({ hypervisors, actions }: { hypervisors: Hypervisor[]; actions: ReactNode }) {
  const table = useReactTable({
    data: hypervisors,
    columns: hypervisorColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (hypervisor) => String(hypervisor.id),
  });
  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="hypervisors-heading">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id="hypervisors-heading">
          Hypervisors
        </Title>
        {actions}
      </Group>
      <DataTable table={table} label="Hypervisors" minWidth={860} />
    </Paper>
  );
}

/**
 * VMs a page shows. The list of a thousand VMs comes in one answer (each VM's backups are a
 * summary row on the server) and is searched and sorted here at once; only the rows of one
 * page are drawn.
 */
const VM_PAGE_SIZE = 100;

function VmsSection({ hypervisors }: { hypervisors: Hypervisor[] }) {
  const navigate = useNavigate();
  const vms = useVmsQuery();
  const [params, setParams] = useSearchParams();
  const search = params.get('q') ?? '';
  const hypervisorFilter = params.get('hypervisor') || null;

  // Replace, not push: typing and filter clicks should not fill the back button's history.
  const update = (changes: Record<string, string | null>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (value === null || value === '') next.delete(key);
          else next.set(key, value);
        }
        return next;
      },
      { replace: true },
    );

  const rows = useMemo(
    () =>
      (vms.data ?? [])
        .filter((vm: Vm) => hypervisorFilter === null || String(vm.hypervisorId) === hypervisorFilter)
        .filter((vm) => vmMatchesSearch(vm, search))
        .sort(compareVms),
    [vms.data, hypervisorFilter, search],
  );
  // Another search or hypervisor starts again at the first page.
  const [paging, setPaging] = useState({ key: '', page: 1 });
  const filterKey = `${search}\u0000${hypervisorFilter ?? ''}`;
  const pageCount = Math.max(1, Math.ceil(rows.length / VM_PAGE_SIZE));
  const page = paging.key === filterKey ? Math.min(paging.page, pageCount) : 1;
  const shown = useMemo(() => rows.slice((page - 1) * VM_PAGE_SIZE, page * VM_PAGE_SIZE), [rows, page]);
  const table = useReactTable({
    data: shown,
    columns: vmColumns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (vm) => String(vm.id),
  });

  const options = hypervisors.map((hypervisor) => ({ value: String(hypervisor.id), label: hypervisor.name }));
  // A filter on a hypervisor that has since been removed must still show (and be clearable).
  if (hypervisorFilter !== null && !options.some((option) => option.value === hypervisorFilter)) {
    options.push({ value: hypervisorFilter, label: `Hypervisor ${hypervisorFilter}` });
  }
  const filtered = search !== '' || hypervisorFilter !== null;
  const counts = countVms(vms.data ?? []);

  return (
    <Paper withBorder radius="md" p="md" component="section" aria-labelledby="vms-heading">
      <Group justify="space-between" mb="sm" align="baseline">
        <Title order={2} size="h4" id="vms-heading">
          Virtual machines
        </Title>
        {vms.isSuccess && counts.total > 0 && (
          <Text size="sm" c="dimmed">
            {`${counts.total} ${counts.total === 1 ? 'VM' : 'VMs'}, ${counts.unprotected} unprotected`}
          </Text>
        )}
      </Group>
      <Group mb="md" align="flex-end">
        <TextInput
          label="Search"
          placeholder="Name or UUID"
          leftSection={<IconSearch size={16} aria-hidden />}
          value={search}
          onChange={(event) => update({ q: event.currentTarget.value })}
          w={260}
          type="search"
        />
        <Select
          label="Hypervisor"
          placeholder="Any hypervisor"
          data={options}
          value={hypervisorFilter}
          onChange={(value) => update({ hypervisor: value })}
          clearable
          w={220}
        />
        {filtered && (
          <Button variant="subtle" leftSection={<IconFilterOff size={16} aria-hidden />} onClick={() => update({ q: null, hypervisor: null })}>
            Clear filters
          </Button>
        )}
      </Group>
      {vms.isPending && <Skeleton h={180} />}
      {vms.isError && <QueryErrorAlert title="Could not load virtual machines" error={vms.error} onRetry={() => void vms.refetch()} />}
      {vms.isSuccess && rows.length === 0 && (
        <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
          {vms.data.length === 0
            ? 'No virtual machine found on these hosts yet. VMs defined in libvirt appear after the next sync; "Sync" lists them now.'
            : 'No virtual machine matches the filters.'}
        </Alert>
      )}
      {rows.length > 0 && (
        <DataTable table={table} label="Virtual machines" minWidth={900} onRowClick={(vm) => void navigate(`/vms/${vm.id}`)} />
      )}
      {pageCount > 1 && (
        <Group justify="space-between" mt="sm">
          <Text size="sm" c="dimmed" aria-live="polite">
            {`VMs ${(page - 1) * VM_PAGE_SIZE + 1}–${(page - 1) * VM_PAGE_SIZE + shown.length} of ${rows.length}`}
          </Text>
          <Pagination total={pageCount} value={page} onChange={(next) => setPaging({ key: filterKey, page: next })} size="sm" aria-label="Pages of virtual machines" />
        </Group>
      )}
    </Paper>
  );
}
