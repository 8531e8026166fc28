import { EmptyState as MantineEmptyState, Paper } from '@mantine/core';
import type { Icon } from '@tabler/icons-react';
import type { ReactNode } from 'react';

interface EmptyStateProps {
  icon: Icon;
  title: string;
  description: ReactNode;
  /** e.g. the button that creates the first item, when the user's role allows it. */
  actions?: ReactNode;
}

/** The one empty state used across pages, so "nothing here yet" always looks and reads the same. */
export function EmptyState({ icon: IconComponent, title, description, actions }: EmptyStateProps) {
  return (
    <Paper withBorder p="xl" radius="md">
      <MantineEmptyState
        variant="light"
        icon={<IconComponent size={28} stroke={1.5} aria-hidden />}
        title={<MantineEmptyState.Title order={2}>{title}</MantineEmptyState.Title>}
        description={description}
      >
        {actions !== undefined && <MantineEmptyState.Actions>{actions}</MantineEmptyState.Actions>}
      </MantineEmptyState>
    </Paper>
  );
}
