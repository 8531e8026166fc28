import { TASK_STATES, TASK_TYPES, type Node } from '@common/api/index.js';
import { Button, Group, Select } from '@mantine/core';
import { IconFilterOff } from '@tabler/icons-react';
import { TASK_STATE_LABELS, TASK_TYPE_LABELS } from '../../utils/task-labels.js';
import type { TaskFilters as Filters } from './task-search-params.js';

const STATE_OPTIONS = TASK_STATES.map((state) => ({ value: state, label: TASK_STATE_LABELS[state] }));
const TYPE_OPTIONS = TASK_TYPES.map((type) => ({ value: type, label: TASK_TYPE_LABELS[type] }));

interface TaskFiltersProps {
  values: Filters;
  nodes: readonly Node[];
  onChange: (values: Filters) => void;
}

export function TaskFilters({ values, nodes, onChange }: TaskFiltersProps) {
  const nodeOptions = nodes.map((node) => ({ value: String(node.id), label: node.name }));
  // A filter on a node that has since been removed must still show (and be clearable).
  if (values.node !== null && !nodeOptions.some((option) => option.value === values.node)) {
    nodeOptions.push({ value: values.node, label: `Node ${values.node}` });
  }
  const active = values.state !== null || values.type !== null || values.node !== null;

  return (
    <Group mb="md" align="flex-end">
      <Select
        label="State"
        placeholder="Any state"
        data={STATE_OPTIONS}
        value={values.state}
        onChange={(state) => onChange({ ...values, state: state })}
        clearable
        w={200}
      />
      <Select
        label="Type"
        placeholder="Any type"
        data={TYPE_OPTIONS}
        value={values.type}
        onChange={(type) => onChange({ ...values, type: type })}
        clearable
        searchable
        w={200}
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
        w={200}
      />
      {active && (
        <Button variant="subtle" leftSection={<IconFilterOff size={16} aria-hidden />} onClick={() => onChange({ state: null, type: null, node: null })}>
          Clear filters
        </Button>
      )}
    </Group>
  );
}
