import { Anchor, Group, Paper, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';

interface DashboardCardProps {
  /** The heading's id: it names the card for assistive technology. */
  headingId: string;
  title: string;
  /** Where the whole list is ("All tasks"), right of the title. */
  link?: { to: string; label: string };
  testId?: string;
  children: ReactNode;
}

/** A dashboard card: a small upper-case heading, optionally a link to the full page, then its content. */
export function DashboardCard({ headingId, title, link, testId, children }: DashboardCardProps) {
  const heading = (
    <Text id={headingId} size="xs" c="dimmed" tt="uppercase" fw={700} mb={link === undefined ? 'sm' : undefined}>
      {title}
    </Text>
  );
  return (
    <Paper withBorder p="md" radius="md" role="group" aria-labelledby={headingId} data-testid={testId}>
      {link === undefined ? (
        heading
      ) : (
        <Group justify="space-between" mb="sm">
          {heading}
          <Anchor component={Link} to={link.to} size="sm">
            {link.label}
          </Anchor>
        </Group>
      )}
      {children}
    </Paper>
  );
}
