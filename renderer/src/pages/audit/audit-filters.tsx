import { Button, Group, TextInput } from '@mantine/core';
import { IconFilterOff, IconSearch } from '@tabler/icons-react';

export interface AuditFilterValues {
  actor: string;
  action: string;
  /** Days as YYYY-MM-DD in the browser's time zone, both included. */
  from: string;
  to: string;
}

export const NO_AUDIT_FILTERS: AuditFilterValues = { actor: '', action: '', from: '', to: '' };

interface AuditFiltersProps {
  values: AuditFilterValues;
  onChange: (values: AuditFilterValues) => void;
}

export function AuditFilters({ values, onChange }: AuditFiltersProps) {
  const any = values.actor !== '' || values.action !== '' || values.from !== '' || values.to !== '';
  return (
    <Group mb="md" align="flex-end" gap="sm">
      <TextInput
        label="User"
        placeholder="e.g. admin"
        leftSection={<IconSearch size={16} aria-hidden />}
        value={values.actor}
        onChange={(event) => onChange({ ...values, actor: event.currentTarget.value })}
        maxLength={64}
      />
      <TextInput
        label="Action"
        placeholder="e.g. user.create"
        leftSection={<IconSearch size={16} aria-hidden />}
        value={values.action}
        onChange={(event) => onChange({ ...values, action: event.currentTarget.value })}
        maxLength={64}
      />
      <TextInput label="From" type="date" value={values.from} max={values.to || undefined} onChange={(event) => onChange({ ...values, from: event.currentTarget.value })} w={160} />
      <TextInput label="To" type="date" value={values.to} min={values.from || undefined} onChange={(event) => onChange({ ...values, to: event.currentTarget.value })} w={160} />
      {any && (
        <Button variant="subtle" leftSection={<IconFilterOff size={16} aria-hidden />} onClick={() => onChange(NO_AUDIT_FILTERS)}>
          Clear filters
        </Button>
      )}
    </Group>
  );
}
