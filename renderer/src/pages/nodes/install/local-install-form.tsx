import type { InstallNode } from '@common/api/index.js';
import { Button, Group, List, Stack, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useEffect, useRef } from 'react';
import { FormError } from '../../../components/form-error.js';
import { formLevelError, serverFieldError } from '../../../utils/server-field-error.js';
import { LocalFormSchema, toLocalInstallRequest, type LocalFormValues } from './install-request.js';
import { plainResolver } from '../../../utils/form-validation.js';

const FIELDS = ['name'] as const;

interface LocalInstallFormProps {
  initialValues: LocalFormValues | null;
  installing: boolean;
  installError: unknown;
  onInstall: (request: InstallNode, values: LocalFormValues) => void;
  onBack: () => void;
}

export function LocalInstallForm({ initialValues, installing, installError, onInstall, onBack }: LocalInstallFormProps) {
  const form = useForm<LocalFormValues>({
    mode: 'uncontrolled',
    initialValues: initialValues ?? { name: '' },
    validate: plainResolver(LocalFormSchema),
  });

  const handledError = useRef<unknown>(null);
  useEffect(() => {
    if (installError === handledError.current) return;
    handledError.current = installError;
    const fieldError = serverFieldError(installError, FIELDS);
    if (fieldError !== null) form.setFieldError(fieldError.field, fieldError.message);
  }, [installError, form]);

  const submit = form.onSubmit((values) => onInstall(toLocalInstallRequest(values), values));

  return (
    <form onSubmit={submit} noValidate>
      <Stack maw={760}>
        <FormError error={formLevelError(installError, FIELDS)} />
        <Text size="sm">The server installs the node service on this computer:</Text>
        <List size="sm" spacing={4}>
          <List.Item>as a systemd service where systemd runs, otherwise as a process the server starts and watches;</List.Item>
          <List.Item>it enrolls with this server and shows online here, usually within a minute.</List.Item>
        </List>
        <TextInput
          label="Node name"
          description="Optional; this computer's host name is used when left empty"
          autoComplete="off"
          data-autofocus
          key={form.key('name')}
          {...form.getInputProps('name')}
        />
        <Group justify="space-between">
          <Button variant="default" onClick={onBack} disabled={installing}>
            Back
          </Button>
          <Button type="submit" loading={installing}>
            Install
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
