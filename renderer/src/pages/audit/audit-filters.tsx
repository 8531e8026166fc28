import { Group, TextInput } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';

export interface AuditFilterValues {
  actor: string;
  action: string;
}

interface AuditFiltersProps {
  values: AuditFilterValues;
  onChange: (values: AuditFilterValues) => void;
}

export function AuditFilters({ values, onChange }: AuditFiltersProps) {
  return (
    <Group mb="md" align="flex-end">
      <TextInput
        label="Actor"
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
    </Group>
  );
}
