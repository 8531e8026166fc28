import type { InstallNode } from '@common/api/index.js';
import {
  Accordion,
  Alert,
  Button,
  Grid,
  Group,
  NumberInput,
  PasswordInput,
  SegmentedControl,
  Stack,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { IconAlertCircle, IconKey } from '@tabler/icons-react';
import { useEffect, useRef, useState } from 'react';
import { errorMessage } from '../../../api/api-error.js';
import { useSshProbeMutation } from '../../../api/nodes.queries.js';
import { FormError } from '../../../components/form-error.js';
import { formLevelError, serverFieldError } from '../../../utils/server-field-error.js';
import { HostKeyConfirmation } from './host-key-confirmation.js';
import { SSH_FORM_DEFAULTS, SshFormSchema, sshTarget, toSshInstallRequest, type SshFormValues } from './install-request.js';
import { plainResolver } from '../../../utils/form-validation.js';

const FIELDS = ['host', 'port', 'user', 'password', 'privateKey', 'passphrase', 'name', 'serverAddress'] as const;

interface SshInstallFormProps {
  /** Kept by the wizard, so "Back" and "try again" do not lose what was typed. */
  initialValues: SshFormValues | null;
  installing: boolean;
  installError: unknown;
  onInstall: (request: InstallNode, values: SshFormValues) => void;
  onBack: () => void;
}

export function SshInstallForm({ initialValues, installing, installError, onInstall, onBack }: SshInstallFormProps) {
  const form = useForm<SshFormValues>({
    mode: 'controlled',
    initialValues: initialValues ?? SSH_FORM_DEFAULTS,
    validate: plainResolver(SshFormSchema),
  });
  const probe = useSshProbeMutation();
  const [trustedFingerprint, setTrustedFingerprint] = useState<string | null>(null);

  // The probe answers for the host and port it was asked about; edit either and it no longer counts.
  const target = sshTarget(form.values);
  const probed =
    probe.data !== undefined && probe.variables?.host === target.host && probe.variables.port === target.port ? probe.data : null;
  const trusted = probed !== null && trustedFingerprint === probed.hostKeyFingerprint;

  const checkHostKey = () => {
    // Both validated (no short-circuit), so both fields show what is wrong at once.
    const hostInvalid = form.validateField('host').hasError;
    const portInvalid = form.validateField('port').hasError;
    if (hostInvalid || portInvalid) return;
    setTrustedFingerprint(null);
    probe.mutate(target);
  };

  const submit = form.onSubmit((values) => {
    if (probed === null || !trusted) return;
    onInstall(toSshInstallRequest(values, probed.hostKeyFingerprint), values);
  });

  // Field errors from the server (name taken, bad password…) go next to their field, and clear
  // as soon as that field is edited.
  const handledError = useRef<unknown>(null);
  useEffect(() => {
    if (installError === handledError.current) return;
    handledError.current = installError;
    const fieldError = serverFieldError(installError, FIELDS);
    if (fieldError !== null) form.setFieldError(fieldError.field, fieldError.message);
  }, [installError, form]);

  return (
    <form onSubmit={submit} noValidate>
      <Stack maw={760}>
        <FormError error={formLevelError(installError, FIELDS)} />
        <Grid>
          <Grid.Col span={{ base: 12, sm: 9 }}>
            <TextInput
              label="Host"
              description="Name or IP address"
              placeholder="kvm1.example.lan"
              autoComplete="off"
              data-autofocus
              {...form.getInputProps('host')}
            />
          </Grid.Col>
          <Grid.Col span={{ base: 12, sm: 3 }}>
            <NumberInput
              label="Port"
              description="Usually 22"
              min={1}
              max={65535}
              allowDecimal={false}
              allowNegative={false}
              {...form.getInputProps('port')}
            />
          </Grid.Col>
        </Grid>
        <TextInput
          label="User"
          description="A user that may install system services; usually root"
          autoComplete="off"
          {...form.getInputProps('user')}
        />
        <Stack gap={6}>
          <Text size="sm" fw={500} id="ssh-auth-label">
            Authentication
          </Text>
          <SegmentedControl
            aria-labelledby="ssh-auth-label"
            data={[
              { value: 'password', label: 'Password' },
              { value: 'key', label: 'Private key' },
            ]}
            value={form.values.auth}
            onChange={(auth) => form.setFieldValue('auth', auth)}
            w="fit-content"
          />
        </Stack>
        {form.values.auth === 'password' ? (
          <PasswordInput
            label="Password"
            autoComplete="off"
            {...form.getInputProps('password')}
          />
        ) : (
          <>
            <Textarea
              label="Private key"
              description="The whole key file, from -----BEGIN to END-----. Stored encrypted on the server."
              autosize
              minRows={4}
              maxRows={10}
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 'var(--mantine-font-size-xs)' } }}
              spellCheck={false}
              {...form.getInputProps('privateKey')}
            />
            <PasswordInput label="Key passphrase" description="Only if the key is protected by one" autoComplete="off" {...form.getInputProps('passphrase')} />
          </>
        )}
        <TextInput
          label="Node name"
          description="Optional; the host name is used when left empty"
          autoComplete="off"
          {...form.getInputProps('name')}
        />
        <Accordion variant="contained" radius="md">
          <Accordion.Item value="advanced">
            <Accordion.Control>Advanced</Accordion.Control>
            <Accordion.Panel>
              <TextInput
                label="Server address the node uses to reach this server"
                description="Host name or IP address. By default, this server's address on the SSH connection is used."
                placeholder="Automatic"
                autoComplete="off"
                {...form.getInputProps('serverAddress')}
              />
            </Accordion.Panel>
          </Accordion.Item>
        </Accordion>

        <Group>
          <Button variant="default" leftSection={<IconKey size={16} aria-hidden />} loading={probe.isPending} onClick={checkHostKey}>
            Check host key
          </Button>
          {probed === null && !probe.isPending && (
            <Text size="sm" c="dimmed">
              Reads the host&apos;s SSH key fingerprint for you to confirm; no credentials are sent.
            </Text>
          )}
        </Group>
        {probe.isError && probe.variables?.host === target.host && (
          <Alert color="red" icon={<IconAlertCircle />} title="Could not read the host key" role="alert">
            {errorMessage(probe.error)}
          </Alert>
        )}
        {probed !== null && (
          <HostKeyConfirmation
            host={target.host}
            keyType={probed.keyType}
            fingerprint={probed.hostKeyFingerprint}
            trusted={trusted}
            onTrustedChange={(checked) => setTrustedFingerprint(checked ? probed.hostKeyFingerprint : null)}
          />
        )}

        <Group justify="space-between">
          <Button variant="default" onClick={onBack} disabled={installing}>
            Back
          </Button>
          <Group gap="sm">
            {!trusted && (
              <Text size="sm" c="dimmed">
                Check and trust the host key first.
              </Text>
            )}
            <Button type="submit" disabled={!trusted} loading={installing}>
              Install
            </Button>
          </Group>
        </Group>
      </Stack>
    </form>
  );
}
