import type { Backup } from '@common/api/index.js';
import { Button, Group, Select, TextInput } from '@mantine/core';
import { IconFilterOff, IconSearch } from '@tabler/icons-react';

/** The filters as the URL keeps them (dates as YYYY-MM-DD in the browser's time zone). */
export interface BackupFilterValues {
  vm: string | null;
  destination: string | null;
  state: Backup['status'] | 'protected' | null;
  from: string | null;
  to: string | null;
  search: string;
}

export const FILTER_KEYS = ['vm', 'destination', 'state', 'from', 'to', 'q'] as const;

const STATES: { value: NonNullable<BackupFilterValues['state']>; label: string }[] = [
  { value: 'available', label: 'Available' },
  { value: 'damaged', label: 'Damaged' },
  { value: 'missing', label: 'Missing' },
  { value: 'removed', label: 'Removed by retention' },
  { value: 'protected', label: 'Protected' },
];

interface BackupFiltersProps {
  values: BackupFilterValues;
  vms: { value: string; label: string }[];
  destinations: { value: string; label: string }[];
  onChange: (change: Partial<BackupFilterValues>) => void;
  onClear: () => void;
}

/** Date range, VM, destination, state and a search over names, notes and ids. */
export function BackupFilters({ values, vms, destinations, onChange, onClear }: BackupFiltersProps) {
  const any = values.vm !== null || values.destination !== null || values.state !== null || values.from !== null || values.to !== null || values.search !== '';
  return (
    <Group mb="md" align="flex-end" gap="sm">
      <TextInput
        label="Search"
        placeholder="VM, notes or backup id"
        leftSection={<IconSearch size={14} aria-hidden />}
        value={values.search}
        onChange={(event) => onChange({ search: event.currentTarget.value })}
        w={220}
      />
      <TextInput label="From" type="date" value={values.from ?? ''} max={values.to ?? undefined} onChange={(event) => onChange({ from: event.currentTarget.value || null })} w={160} />
      <TextInput label="To" type="date" value={values.to ?? ''} min={values.from ?? undefined} onChange={(event) => onChange({ to: event.currentTarget.value || null })} w={160} />
      {/* A thousand VMs: the list shows the first 100 that match what is typed. */}
      <Select label="VM" placeholder="Any VM" data={vms} value={values.vm} onChange={(vm) => onChange({ vm })} clearable searchable limit={100} nothingFoundMessage="No VM with that name" w={200} />
      <Select
        label="Destination"
        placeholder="Any destination"
        data={destinations}
        value={values.destination}
        onChange={(destination) => onChange({ destination })}
        clearable
        searchable
        nothingFoundMessage="No destination with that name"
        w={200}
      />
      <Select label="State" placeholder="Any state" data={STATES} value={values.state} onChange={(state) => onChange({ state })} clearable w={190} />
      {any && (
        <Button variant="subtle" leftSection={<IconFilterOff size={16} aria-hidden />} onClick={onClear}>
          Clear filters
        </Button>
      )}
    </Group>
  );
}
