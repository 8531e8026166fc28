import { CreateM365TenantSchema, M365_DEFAULT_AUTHORITY_HOST, M365_DEFAULT_GRAPH_URL, type CreateM365Tenant } from '@common/api/index.js';
import { Anchor, Button, Collapse, Group, Modal, PasswordInput, SegmentedControl, SimpleGrid, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { IconChevronRight } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { isApiError, showOnField } from '../../api/api-error.js';
import { useAddM365TenantMutation, useTestM365SettingsMutation } from '../../api/m365.queries.js';
import { useNodesQuery } from '../../api/nodes.queries.js';
import { FormError } from '../../components/form-error.js';
import { NodeSelect, NoNodeAlert } from '../../components/node-select.js';
import { plainResolver } from '../../utils/form-validation.js';
import { ConnectionTestResult } from './connection-test-result.js';

type Values = Required<Omit<CreateM365Tenant, 'caPem'>> & { caPem: string };

const FIELDS = ['name', 'node', 'tenantId', 'clientId', 'clientSecret', 'certificatePem', 'privateKeyPem', 'authorityHost', 'graphUrl', 'caPem'] as const;
type Field = (typeof FIELDS)[number];
const ADVANCED: readonly Field[] = ['authorityHost', 'graphUrl', 'caPem'];
/** PEM text in a fixed-width font; the label stays as the others. */
const MONOSPACE = { input: { fontFamily: 'var(--mantine-font-family-monospace)' } };

/** The field the server names (a wrong secret: the secret; an unknown tenant: its ID); the rest shows at the top. */
function errorField(error: unknown): Field | null {
  if (!isApiError(error)) return null;
  return FIELDS.find((field) => field === error.field) ?? null;
}

/** What the form sends: the credential of the chosen kind only, the CA only when there is one. */
function requestOf(v: Values): CreateM365Tenant {
  const credential = v.credentialKind === 'secret' ? { clientSecret: v.clientSecret } : { certificatePem: v.certificatePem, privateKeyPem: v.privateKeyPem };
  return {
    name: v.name.trim(),
    node: v.node,
    tenantId: v.tenantId.trim(),
    clientId: v.clientId.trim(),
    credentialKind: v.credentialKind,
    ...credential,
    authorityHost: v.authorityHost.trim(),
    graphUrl: v.graphUrl.trim(),
    ...(v.caPem.trim() ? { caPem: v.caPem } : {}),
  };
}

/**
 * A tenant is reached through an app registration (Entra ID → App registrations) with
 * application permissions and admin consent. Test connection signs in on the chosen node and
 * names each permission; adding does the same first and refuses, saving nothing, when signing
 * in fails. A secret or private key typed here is never shown again.
 */
export function AddTenantModal({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const add = useAddM365TenantMutation();
  const test = useTestM365SettingsMutation();
  const nodes = useNodesQuery();
  const [advanced, setAdvanced] = useState(false);
  const form = useForm<Values>({
    mode: 'controlled',
    initialValues: {
      name: '',
      node: '',
      tenantId: '',
      clientId: '',
      credentialKind: 'secret',
      clientSecret: '',
      certificatePem: '',
      privateKeyPem: '',
      authorityHost: M365_DEFAULT_AUTHORITY_HOST,
      graphUrl: M365_DEFAULT_GRAPH_URL,
      caPem: '',
    },
    validate: (values) => plainResolver(CreateM365TenantSchema)(requestOf(values)),
  });

  // One online node: it is the only choice, so choose it.
  const online = (nodes.data ?? []).filter((node) => node.status === 'online');
  const onlyNode = online.length === 1 ? online[0] : undefined;
  useEffect(() => {
    if (onlyNode !== undefined && form.values.node === '') form.setFieldValue('node', String(onlyNode.id));
    // Only when the choice appears, not on every edit.
  }, [onlyNode?.id]);

  const onError = showOnField(form, errorField, (field) => ADVANCED.includes(field) && setAdvanced(true));
  const busy = add.isPending || test.isPending;
  const error = add.error ?? test.error;

  const runTest = () => {
    // Only the fields a test needs: a name is not one of them.
    const wrong = FIELDS.filter((field) => field !== 'name').map((field) => form.validateField(field).hasError);
    if (wrong.includes(true)) return;
    add.reset();
    test.mutate(requestOf(form.getValues()), { onError });
  };

  const submit = form.onSubmit((values) => {
    test.reset();
    add.mutate(requestOf(values), {
      onSuccess: (created) => {
        notifications.show({ color: 'green', message: `Tenant ${created.tenant.name} added: its users and sites are being listed.` });
        if (!created.test.ok) notifications.show({ color: 'yellow', title: `Tenant ${created.tenant.name}: a permission is missing`, message: created.test.message, autoClose: false });
        onClose();
        void navigate(`/m365/${created.tenant.id}`, { state: { syncTaskId: created.syncTaskId } });
      },
      onError,
    });
  });

  const secret = form.values.credentialKind === 'secret';
  return (
    <Modal opened onClose={onClose} title="Add Microsoft 365 tenant" size="lg" closeOnClickOutside={!busy}>
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          <FormError error={errorField(error) === null ? error : null} />
          {nodes.isSuccess && nodes.data.length === 0 && <NoNodeAlert>A node signs in to Microsoft 365 and lists and backs up the tenant.</NoNodeAlert>}
          <SimpleGrid cols={2}>
            <TextInput label="Name" description="How vPlus refers to it, e.g. contoso" autoComplete="off" data-autofocus {...form.getInputProps('name')} />
            <NodeSelect nodes={nodes.data} loading={nodes.isPending} description="Reaches Microsoft 365 for it" {...form.getInputProps('node')} />
            <TextInput label="Directory (tenant) ID" placeholder="GUID, or contoso.onmicrosoft.com" autoComplete="off" spellCheck={false} {...form.getInputProps('tenantId')} />
            <TextInput label="Application (client) ID" placeholder="GUID of the app registration" autoComplete="off" spellCheck={false} {...form.getInputProps('clientId')} />
          </SimpleGrid>
          <SegmentedControl
            aria-label="Credential"
            data={[
              { value: 'secret', label: 'Client secret' },
              { value: 'certificate', label: 'Certificate' },
            ]}
            value={form.values.credentialKind}
            onChange={(kind) => form.setFieldValue('credentialKind', kind === 'certificate' ? 'certificate' : 'secret')}
          />
          {secret ? (
            <PasswordInput label="Client secret" description="Its Value (not its Secret ID), from Certificates & secrets" autoComplete="new-password" {...form.getInputProps('clientSecret')} />
          ) : (
            <SimpleGrid cols={2}>
              <Textarea label="Certificate (PEM)" description="Registered on the app" autosize minRows={3} maxRows={4} styles={MONOSPACE} spellCheck={false} {...form.getInputProps('certificatePem')} />
              <Textarea label="Private key (PEM)" description="Not encrypted" autosize minRows={3} maxRows={4} styles={MONOSPACE} spellCheck={false} {...form.getInputProps('privateKeyPem')} />
            </SimpleGrid>
          )}
          <Anchor component="button" type="button" size="sm" onClick={() => setAdvanced((open) => !open)} aria-expanded={advanced}>
            <Group gap={4} component="span">
              <IconChevronRight size={14} aria-hidden style={{ transform: advanced ? 'rotate(90deg)' : undefined }} />
              Advanced: national clouds, proxies
            </Group>
          </Anchor>
          <Collapse expanded={advanced}>
            <Stack gap="sm">
              <SimpleGrid cols={2}>
                <TextInput label="Authority host" autoComplete="off" spellCheck={false} {...form.getInputProps('authorityHost')} />
                <TextInput label="Graph URL" autoComplete="off" spellCheck={false} {...form.getInputProps('graphUrl')} />
              </SimpleGrid>
              <Textarea
                label="Trusted CA (PEM)"
                description="Only behind a proxy that inspects TLS: its CA certificate"
                autosize
                minRows={2}
                maxRows={3}
                styles={MONOSPACE}
                spellCheck={false}
                {...form.getInputProps('caPem')}
              />
            </Stack>
          </Collapse>
          {test.data !== undefined && <ConnectionTestResult test={test.data} />}
          {busy && (
            <Text size="sm" c="dimmed" role="status">
              Signing in from the node and checking the permissions…
            </Text>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={busy}>
              Cancel
            </Button>
            <Button variant="light" onClick={runTest} loading={test.isPending} disabled={add.isPending}>
              Test connection
            </Button>
            <Button type="submit" loading={add.isPending} disabled={test.isPending}>
              Add tenant
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
