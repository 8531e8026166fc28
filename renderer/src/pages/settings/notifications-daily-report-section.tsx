import { Alert, Button, Grid, Group, List, Paper, Select, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconAlertCircle, IconCircleCheck, IconReportAnalytics } from '@tabler/icons-react';
import { useMemo } from 'react';
import { errorMessage } from '../../api/api-error.js';
import { useSendDailyReportMutation } from '../../api/notifications.queries.js';
import type { NotificationsFormValues } from './notifications-form.js';

function timeZones(current: string): string[] {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return zones.includes(current) ? zones : [current, ...zones];
}

export function NotificationsDailyReportSection({ form, dirty }: { form: UseFormReturnType<NotificationsFormValues>; dirty: boolean }) {
  const send = useSendDailyReportMutation();
  const values = form.values;
  const zones = useMemo(() => timeZones(values.timeZone), [values.timeZone]);

  return (
    <Paper withBorder radius="md" p="md">
      <Stack>
        <Group justify="space-between">
          <Title order={2} size="h4">
            Daily report
          </Title>
          <Switch label="Send a daily report" {...form.getInputProps('dailyEnabled', { type: 'checkbox' })} />
        </Group>
        <Text size="sm" c="dimmed">
          Once a day, the last 24 hours: backups done, failed and missed, failed tasks, and the space each destination uses. It goes to the rules with
          “Daily report”.
        </Text>
        {values.dailyEnabled && (
          <Grid>
            <Grid.Col span={{ base: 12, sm: 3 }}>
              <TextInput type="time" label="At" {...form.getInputProps('dailyTime')} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 9 }}>
              <Select label="Time zone" data={zones} searchable allowDeselect={false} maxDropdownHeight={260} {...form.getInputProps('timeZone')} />
            </Grid.Col>
          </Grid>
        )}
        <Group>
          <Button variant="default" leftSection={<IconReportAnalytics size={16} aria-hidden />} onClick={() => send.mutate()} loading={send.isPending} disabled={dirty}>
            Send the report now
          </Button>
          {dirty && (
            <Text size="xs" c="dimmed">
              Save first: the report goes out with the saved settings.
            </Text>
          )}
        </Group>
        {send.isError && (
          <Alert color="red" icon={<IconAlertCircle />} title="Not sent" role="alert" data-testid="daily-report-result">
            {errorMessage(send.error)}
          </Alert>
        )}
        {send.isSuccess && (
          <Alert
            color={send.data.failures.length ? 'yellow' : 'green'}
            icon={<IconCircleCheck />}
            title={send.data.sentTo.length ? `Sent to ${send.data.sentTo.map((s) => s.replace(/^email:/, '')).join(', ')}` : 'Not sent'}
            role="status"
            data-testid="daily-report-result"
          >
            {`${send.data.report.backups.succeeded} backups done, ${send.data.report.backups.failed} failed, ${send.data.report.policyRuns.missed} missed.`}
            {send.data.failures.length > 0 && (
              <List size="sm" mt="xs">
                {send.data.failures.map((f) => (
                  <List.Item key={f.channel}>{`${f.channel}: ${f.message}`}</List.Item>
                ))}
              </List>
            )}
          </Alert>
        )}
      </Stack>
    </Paper>
  );
}
