import type { NotificationChannel } from '@common/api/index.js';
import { ActionIcon, Button, Grid, Group, MultiSelect, Paper, Select, Stack, TagsInput, Text, Title } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconMail, IconPlus, IconTrash, IconWebhook } from '@tabler/icons-react';
import { EVENT_OPTIONS, newRule, type NotificationsFormValues } from './notifications-form.js';

const CHANNEL_OPTIONS: { value: NotificationChannel; label: string }[] = [
  { value: 'email', label: 'E-mail' },
  { value: 'webhook', label: 'Webhook' },
];

/** Which events go where: one row per rule; an event may go to several rules. */
export function NotificationsRulesSection({ form }: { form: UseFormReturnType<NotificationsFormValues> }) {
  const rules = form.values.rules;
  return (
    <Paper withBorder radius="md" p="md">
      <Stack>
        <Title order={2} size="h4">
          Rules
        </Title>
        <Text size="sm" c="dimmed">
          Which events go to whom. A failed backup is reported once, not once per step of it.
        </Text>
        {rules.length === 0 && (
          <Text size="sm" data-testid="no-rules">
            No rules yet: nothing is sent.
          </Text>
        )}
        {rules.map((rule, i) => (
          <Paper key={rule.key} withBorder radius="sm" p="sm" data-testid={`rule-${i}`}>
            <Grid align="flex-start">
              <Grid.Col span={{ base: 12, md: 4 }}>
                <MultiSelect label="Events" data={EVENT_OPTIONS} placeholder={rule.events.length ? undefined : 'Choose events'} {...form.getInputProps(`rules.${i}.events`)} />
              </Grid.Col>
              <Grid.Col span={{ base: 12, md: 2 }}>
                <Select label="Channel" data={CHANNEL_OPTIONS} allowDeselect={false} {...form.getInputProps(`rules.${i}.channel`)} />
              </Grid.Col>
              <Grid.Col span={{ base: 10, md: 5 }}>
                {rule.channel === 'email' ? (
                  <TagsInput
                    label="Recipients"
                    description="Press Enter after each address"
                    placeholder={rule.recipients.length ? undefined : 'ops@example.com'}
                    splitChars={[',', ' ', ';']}
                    clearable
                    {...form.getInputProps(`rules.${i}.recipients`)}
                  />
                ) : (
                  <Text size="sm" c="dimmed" mt={28}>
                    Posted to the webhook URL above.
                  </Text>
                )}
              </Grid.Col>
              <Grid.Col span={{ base: 2, md: 1 }}>
                <ActionIcon variant="subtle" color="red" mt={26} aria-label={`Remove rule ${i + 1}`} onClick={() => form.removeListItem('rules', i)}>
                  <IconTrash size={18} aria-hidden />
                </ActionIcon>
              </Grid.Col>
            </Grid>
          </Paper>
        ))}
        <Group>
          <Button variant="default" leftSection={<IconPlus size={16} aria-hidden />} rightSection={<IconMail size={16} aria-hidden />} onClick={() => form.insertListItem('rules', newRule('email'))}>
            Add e-mail rule
          </Button>
          <Button variant="default" leftSection={<IconPlus size={16} aria-hidden />} rightSection={<IconWebhook size={16} aria-hidden />} onClick={() => form.insertListItem('rules', newRule('webhook'))}>
            Add webhook rule
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}
