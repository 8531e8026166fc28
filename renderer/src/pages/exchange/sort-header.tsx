import { Group, Text, UnstyledButton } from '@mantine/core';
import { IconArrowDown, IconArrowUp, IconArrowsSort } from '@tabler/icons-react';
import type { Column } from '@tanstack/react-table';

/** A column header that sorts on the server when clicked. */
export function SortHeader<Row>({ column, label }: { column: Column<Row>; label: string }) {
  const sorted = column.getIsSorted();
  const Icon = sorted === 'asc' ? IconArrowUp : sorted === 'desc' ? IconArrowDown : IconArrowsSort;
  return (
    <UnstyledButton onClick={column.getToggleSortingHandler()} aria-label={`Sort by ${label.toLowerCase()}`} aria-pressed={sorted !== false}>
      <Group gap={4} wrap="nowrap">
        <Text size="sm" fw={700}>
          {label}
        </Text>
        <Icon size={14} aria-hidden style={{ opacity: sorted === false ? 0.4 : 1 }} />
      </Group>
    </UnstyledButton>
  );
}
