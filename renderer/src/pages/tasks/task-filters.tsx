import { TASK_STATES, TASK_TYPES, type Node } from '@common/api/index.js';
import { Button, Group, Select, TextInput } from '@mantine/core';
import { IconFilterOff, IconSearch } from '@tabler/icons-react';
import { TASK_STATE_LABELS, TASK_TYPE_LABELS } from '../../utils/task-labels.js';
import { hasTaskFilters, NO_TASK_FILTERS, type TaskFilters as Filters } from './task-search-params.js';

const STATE_OPTIONS = TASK_STATES.map((state) => ({ value: state, label: TASK_STATE_LABELS[state] }));
const TYPE_OPTIONS = TASK_TYPES.map((type) => ({ value: type, label: TASK_TYPE_LABELS[type] }));

interface TaskFiltersProps {
  values: Filters;
  nodes: readonly Node[];
  onChange: (values: Filters) => void;
}

/** State, type, node, subject and the days the tasks were created on: the server filters, a page at a time. */
export function TaskFilters({ values, nodes, onChange }: TaskFiltersProps) {
  const nodeOptions = nodes.map((node) => ({ value: String(node.id), label: node.name }));
  // A filter on a node that has since been removed must still show (and be clearable).
  if (values.node !== null && !nodeOptions.some((option) => option.value === values.node)) {
    nodeOptions.push({ value: values.node, label: `Node ${values.node}` });
  }

  return (
    <Group mb="md" align="flex-end" gap="sm">
      <Select label="State" placeholder="Any state" data={STATE_OPTIONS} value={values.state} onChange={(state) => onChange({ ...values, state })} clearable w={190} />
      <Select
        label="Type"
        placeholder="Any type"
        data={TYPE_OPTIONS}
        value={values.type}
        onChange={(type) => onChange({ ...values, type })}
        clearable
        searchable
        w={190}
      />
      <Select
        label="Node"
        placeholder="Any node"
        data={nodeOptions}
        value={values.node}
        onChange={(node) => onChange({ ...values, node })}
        clearable
        searchable
        nothingFoundMessage="No node with that name"
        w={180}
      />
      <TextInput
        label="Subject"
        placeholder="e.g. vm:web-1"
        leftSection={<IconSearch size={14} aria-hidden />}
        value={values.subject}
        onChange={(event) => onChange({ ...values, subject: event.currentTarget.value })}
        maxLength={255}
        w={190}
      />
      <TextInput label="Created from" type="date" value={values.from ?? ''} max={values.to ?? undefined} onChange={(event) => onChange({ ...values, from: event.currentTarget.value || null })} w={160} />
      <TextInput label="Created to" type="date" value={values.to ?? ''} min={values.from ?? undefined} onChange={(event) => onChange({ ...values, to: event.currentTarget.value || null })} w={160} />
      {hasTaskFilters(values) && (
        <Button variant="subtle" leftSection={<IconFilterOff size={16} aria-hidden />} onClick={() => onChange(NO_TASK_FILTERS)}>
          Clear filters
        </Button>
      )}
    </Group>
  );
}
