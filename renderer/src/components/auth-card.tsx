import { Center, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { IconShieldCheck } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { usePageTitle } from '../hooks/use-page-title.js';

/** The centred card shared by sign-in and first-run setup, before the app shell exists. */
export function AuthCard({ title, description, children }: { title: string; description: ReactNode; children: ReactNode }) {
  usePageTitle(title);
  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" radius="md" w="100%" maw={420}>
        <Stack gap="lg">
          <Group gap="xs">
            <IconShieldCheck size={28} aria-hidden />
            <Text fw={700} size="xl">
              vPlus
            </Text>
          </Group>
          <Stack gap={4}>
            <Title order={1} size="h3">
              {title}
            </Title>
            <Text size="sm" c="dimmed">
              {description}
            </Text>
          </Stack>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}
