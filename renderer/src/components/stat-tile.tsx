import { Group, Paper, Text } from '@mantine/core';
import type { Icon } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';

interface StatTileProps {
  label: string;
  value: ReactNode;
  icon: Icon;
  /** Secondary line under the value, e.g. catalog mode and health. */
  detail?: ReactNode;
  /** Makes the whole tile a link to the page with the details. */
  to?: string;
  /** Accessible name of that link, e.g. "Nodes: 2/3 online"; defaults to the tile's text. */
  linkLabel?: string;
}

export function StatTile({ label, value, icon: IconComponent, detail, to, linkLabel }: StatTileProps) {
  const labelId = `stat-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  const content = (
    <>
      <Group justify="space-between" wrap="nowrap">
        <Text id={labelId} size="xs" c="dimmed" tt="uppercase" fw={700}>
          {label}
        </Text>
        <IconComponent size={20} stroke={1.5} aria-hidden />
      </Group>
      <Text fw={700} size="xl" mt="xs" style={{ overflowWrap: 'anywhere' }}>
        {value}
      </Text>
      {detail !== undefined && (
        <Group gap="xs" mt={6}>
          {detail}
        </Group>
      )}
    </>
  );
  if (to !== undefined) {
    return (
      <Paper
        withBorder
        p="md"
        radius="md"
        component={Link}
        to={to}
        aria-label={linkLabel}
        style={{ color: 'inherit', textDecoration: 'none', display: 'block' }}
        className="stat-tile-link"
      >
        {content}
      </Paper>
    );
  }
  return (
    <Paper withBorder p="md" radius="md" role="group" aria-labelledby={labelId}>
      {content}
    </Paper>
  );
}
