import type { NotificationSettings } from '@common/api/index.js';
import { Alert, Button, Checkbox, Grid, Group, NumberInput, Paper, PasswordInput, SegmentedControl, Stack, Switch, Text, Textarea, TextInput, Title } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconAlertTriangle, IconSend } from '@tabler/icons-react';
import { useState } from 'react';
import { fieldErrorMessage, isApiError } from '../../api/api-error.js';
import { useTestEmailMutation } from '../../api/notifications.queries.js';
import { DEFAULT_PORTS, formFieldOf, SECURITY_OPTIONS, toSmtpInput, validate, type NotificationsFormValues } from './notifications-form.js';
import { NotificationsTestResult } from './notifications-test-result.js';

const SMTP_FIELDS = new Set(['host', 'port', 'security', 'username', 'password', 'from', 'trustedCa']);

interface EmailSectionProps {
  form: UseFormReturnType<NotificationsFormValues>;
  saved: NotificationSettings;
  /** Where a test e-mail goes unless the admin types another address. */
  defaultTestAddress: string;
}

export function NotificationsEmailSection({ form, saved, defaultTestAddress }: EmailSectionProps) {
  const test = useTestEmailMutation();
  const [to, setTo] = useState(defaultTestAddress);
  const [toError, setToError] = useState<string | null>(null);
  const values = form.values;
  const passwordSet = saved.smtp?.passwordSet === true;

  const sendTest = () => {
    test.reset();
    // Only the SMTP fields matter for a test; a half-written rule must not block it.
    const errors = Object.fromEntries(Object.entries(validate(values)).filter(([field]) => SMTP_FIELDS.has(field)));
    setToError(/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to.trim()) ? null : 'Enter the address to send the test to');
    if (Object.keys(errors).length > 0) {
      form.setErrors(errors);
      return;
    }
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to.trim())) return;
    test.mutate(
      { to: to.trim(), smtp: toSmtpInput(values) },
      {
        onError: (error) => {
          const field = formFieldOf(isApiError(error) ? error.field : undefined);
          if (field !== null && SMTP_FIELDS.has(field)) form.setFieldError(field, fieldErrorMessage(error, field));
        },
      },
    );
  };

  const changeSecurity = (security: string) => {
    const previous = values.security;
    form.setFieldValue('security', security as NotificationsFormValues['security']);
    // Follow the usual port of the mode, unless the admin chose an unusual one.
    if (Number(values.port) === DEFAULT_PORTS[previous]) form.setFieldValue('port', DEFAULT_PORTS[security as NotificationsFormValues['security']]);
  };

  return (
    <Paper withBorder radius="md" p="md">
      <Stack>
        <Group justify="space-between">
          <Title order={2} size="h4">
            E-mail
          </Title>
          <Switch label="Send e-mail" {...form.getInputProps('emailEnabled', { type: 'checkbox' })} />
        </Group>
        {!values.emailEnabled ? (
          <Text size="sm" c="dimmed">
            Turn this on to e-mail failed tasks, missed or failed policy runs and the daily report through your mail server.
          </Text>
        ) : (
          <>
            <Grid>
              <Grid.Col span={{ base: 12, sm: 9 }}>
                <TextInput label="SMTP server" description="Host name or IP address" placeholder="smtp.example.com" autoComplete="off" spellCheck={false} {...form.getInputProps('host')} />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 3 }}>
                <NumberInput label="Port" description="587, 465 or 25" min={1} max={65535} allowDecimal={false} allowNegative={false} {...form.getInputProps('port')} />
              </Grid.Col>
            </Grid>
            <Stack gap={6}>
              <Text size="sm" fw={500} id="smtp-security-label">
                Security
              </Text>
              <SegmentedControl aria-labelledby="smtp-security-label" data={SECURITY_OPTIONS} value={values.security} onChange={changeSecurity} w="fit-content" />
              <Text size="xs" c="dimmed">
                STARTTLS: upgrades to TLS and refuses to go on without it (port 587). TLS: encrypted from the start (port 465). None: plain text.
              </Text>
            </Stack>
            {values.security === 'none' && values.username.trim() !== '' && (
              <Alert color="yellow" icon={<IconAlertTriangle />}>
                Without TLS the password crosses the network readable by anyone on the way. Use this only with a relay on a trusted network.
              </Alert>
            )}
            <Grid>
              <Grid.Col span={{ base: 12, sm: 6 }}>
                <TextInput label="Username" description="Empty if the server takes mail without a login" autoComplete="off" {...form.getInputProps('username')} />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6 }}>
                <PasswordInput
                  label="Password"
                  description={passwordSet ? 'A password is stored. Leave this empty to keep it.' : 'Stored encrypted; never shown again'}
                  placeholder={passwordSet ? '••••••••' : ''}
                  autoComplete="new-password"
                  disabled={values.clearPassword}
                  {...form.getInputProps('password')}
                />
                {passwordSet && <Checkbox mt="xs" size="xs" label="Remove the stored password" {...form.getInputProps('clearPassword', { type: 'checkbox' })} />}
              </Grid.Col>
            </Grid>
            <TextInput label="From address" description="The sender of every message; most servers only accept their own domains here" placeholder="vplus@example.com" autoComplete="off" {...form.getInputProps('from')} />
            <Textarea
              label="Trusted CA (optional)"
              description="For a server whose certificate is signed by your own CA: paste that CA certificate (PEM). It is trusted in addition to the usual ones; certificates are always checked."
              placeholder="-----BEGIN CERTIFICATE-----"
              autosize
              minRows={2}
              maxRows={8}
              spellCheck={false}
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 12 } }}
              {...form.getInputProps('trustedCa')}
            />
            <Group align="flex-end" gap="sm">
              <TextInput
                label="Send a test e-mail to"
                placeholder="you@example.com"
                value={to}
                onChange={(e) => setTo(e.currentTarget.value)}
                error={toError}
                autoComplete="email"
                w={320}
              />
              <Button variant="default" leftSection={<IconSend size={16} aria-hidden />} onClick={sendTest} loading={test.isPending}>
                Send test e-mail
              </Button>
            </Group>
            <Text size="xs" c="dimmed" mt={-8}>
              Uses the values above, saved or not.
            </Text>
            <NotificationsTestResult response={test.data?.response} error={test.error} testId="test-email-result" />
          </>
        )}
      </Stack>
    </Paper>
  );
}
