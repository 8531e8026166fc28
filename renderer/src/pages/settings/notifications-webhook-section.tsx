import type { NotificationSettings } from '@common/api/index.js';
import { Button, Checkbox, Code, Group, Paper, PasswordInput, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconSend } from '@tabler/icons-react';
import { fieldErrorMessage, isApiError } from '../../api/api-error.js';
import { useTestWebhookMutation } from '../../api/notifications.queries.js';
import { formFieldOf, validate, type NotificationsFormValues } from './notifications-form.js';
import { NotificationsTestResult } from './notifications-test-result.js';

interface WebhookSectionProps {
  form: UseFormReturnType<NotificationsFormValues>;
  saved: NotificationSettings;
}

export function NotificationsWebhookSection({ form, saved }: WebhookSectionProps) {
  const test = useTestWebhookMutation();
  const values = form.values;
  const secretSet = saved.webhook?.secretSet === true;

  const sendTest = () => {
    test.reset();
    const error = validate(values).webhookUrl;
    if (error !== undefined) {
      form.setFieldError('webhookUrl', error);
      return;
    }
    const url = values.webhookUrl.trim();
    // A typed secret is tried; otherwise the stored one, which the server only uses for the saved URL.
    const secret = values.webhookSecret !== '' ? { secret: values.webhookSecret } : values.clearWebhookSecret ? { secret: null } : {};
    test.mutate(
      { url, ...secret },
      {
        onError: (error) => {
          const field = formFieldOf(isApiError(error) ? error.field : undefined);
          if (field === 'webhookUrl') form.setFieldError(field, fieldErrorMessage(error, field));
        },
      },
    );
  };

  return (
    <Paper withBorder radius="md" p="md">
      <Stack>
        <Group justify="space-between">
          <Title order={2} size="h4">
            Webhook
          </Title>
          <Switch label="Post to a webhook" {...form.getInputProps('webhookEnabled', { type: 'checkbox' })} />
        </Group>
        {!values.webhookEnabled ? (
          <Text size="sm" c="dimmed">
            Turn this on to POST each event as JSON to a URL: a chat room&apos;s incoming webhook, a monitoring system or your own script.
          </Text>
        ) : (
          <>
            <TextInput label="URL" description="http:// or https://; each event is POSTed here as JSON" placeholder="https://chat.example.com/hooks/…" autoComplete="off" spellCheck={false} {...form.getInputProps('webhookUrl')} />
            <div>
              <PasswordInput
                label="Signing secret (optional)"
                description={
                  <>
                    When set, each request carries <Code>X-Vplus-Signature: sha256=…</Code>, the HMAC-SHA256 of the body with this secret.
                    {secretSet ? ' A secret is stored; leave this empty to keep it.' : ''}
                  </>
                }
                placeholder={secretSet ? '••••••••' : ''}
                autoComplete="new-password"
                disabled={values.clearWebhookSecret}
                {...form.getInputProps('webhookSecret')}
              />
              {secretSet && <Checkbox mt="xs" size="xs" label="Remove the stored secret" {...form.getInputProps('clearWebhookSecret', { type: 'checkbox' })} />}
            </div>
            <Group>
              <Button variant="default" leftSection={<IconSend size={16} aria-hidden />} onClick={sendTest} loading={test.isPending}>
                Send test webhook
              </Button>
            </Group>
            <NotificationsTestResult response={test.data?.response} error={test.error} testId="test-webhook-result" />
          </>
        )}
      </Stack>
    </Paper>
  );
}
