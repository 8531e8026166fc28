import { CreateDestinationSchema, DestinationNameSchema, type CreateDestination } from '@common/api/index.js';
import { Alert, Anchor, Button, Modal, PasswordInput, Stack, Switch, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconKey } from '@tabler/icons-react';
import { useEffect, useRef, useState } from 'react';
import { z } from 'zod';
import { isApiError, showOnField } from '../../api/api-error.js';
import { useCreateDestinationMutation } from '../../api/destinations.queries.js';
import { useNodesQuery } from '../../api/nodes.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { NodeSelect, NoNodeAlert } from '../../components/node-select.js';
import { plainResolver } from '../../utils/form-validation.js';
import { RecoveryKeyFields, RecoveryKeyFieldSchema } from './recovery-key-fields.js';
import { RecoveryKeyStep } from './recovery-key-step.js';

// The server's rules (common/api), plus what only a person needs: the confirmation.
const AddDestinationFormSchema = z
  .object({
    name: DestinationNameSchema,
    node: z.string().min(1, 'Choose the node that reaches the path'),
    path: CreateDestinationSchema.shape.path,
    encrypt: z.boolean(),
    password: z.string(),
    confirmPassword: z.string(),
    /** Open the encrypted repository at the path with its recovery key, and set the password as its new one. */
    useRecoveryKey: z.boolean(),
    recoveryKey: z.string(),
  })
  .superRefine((values, ctx) => {
    if (values.useRecoveryKey) {
      const key = RecoveryKeyFieldSchema.safeParse(values.recoveryKey);
      if (!key.success) ctx.addIssue({ code: 'custom', path: ['recoveryKey'], message: key.error.issues[0]?.message ?? 'Not a recovery key' });
    } else if (!values.encrypt) {
      return;
    }
    const password = CreateDestinationSchema.shape.password.unwrap().safeParse(values.password);
    if (!password.success) ctx.addIssue({ code: 'custom', path: ['password'], message: password.error.issues[0]?.message ?? 'Invalid password' });
    else if (values.password !== values.confirmPassword) ctx.addIssue({ code: 'custom', path: ['confirmPassword'], message: 'The passwords do not match' });
  });
type AddDestinationForm = z.infer<typeof AddDestinationFormSchema>;

const FIELDS = ['name', 'node', 'path', 'password', 'recoveryKey'] as const;
type Field = (typeof FIELDS)[number];

/**
 * Where a refusal belongs: the field the server names; otherwise a refusal from the node's check
 * (400, 409, 502: path missing, not writable, not mounted, …) is about the path.
 */
/** The node could not open the repository at the path with the password given (wrong, or none): the recovery key may. */
function passwordRefused(error: unknown): boolean {
  return isApiError(error, 400) && error.field === 'password' && error.code === 'DESTINATION_CHECK_FAILED';
}

function errorField(error: unknown): Field | null {
  if (!isApiError(error)) return null;
  const named = FIELDS.find((field) => field === error.field);
  if (named !== undefined) return named;
  if (error.field === undefined && [400, 409, 502].includes(error.status)) return 'path';
  return null;
}

export function AddDestinationModal({ onClose }: { onClose: () => void }) {
  const create = useCreateDestinationMutation();
  /** An encrypted destination just added: its recovery key, shown this once. */
  const [added, setAdded] = useState<{ name: string; recoveryKey: string } | null>(null);
  /** The repository at the path refused the password: offer its recovery key instead. */
  const [keyOffered, setKeyOffered] = useState(false);
  const passwordInput = useRef<HTMLInputElement>(null);
  const nodes = useNodesQuery();
  const form = useForm<AddDestinationForm>({
    mode: 'controlled',
    // Encrypted unless the admin says otherwise: backups often leave the building.
    initialValues: { name: '', node: '', path: '', encrypt: true, password: '', confirmPassword: '', useRecoveryKey: false, recoveryKey: '' },
    validate: plainResolver(AddDestinationFormSchema),
  });

  // One online node: it is the only choice, so choose it.
  const onlineNodes = (nodes.data ?? []).filter((node) => node.status === 'online');
  const onlyNode = onlineNodes.length === 1 ? String(onlineNodes[0]?.id) : null;
  const nodeChosen = form.values.node !== '';
  useEffect(() => {
    if (onlyNode !== null && !nodeChosen) form.setFieldValue('node', onlyNode);
    // Only when the choice appears, not on every edit: it must not fight the user's own choice.
  }, [onlyNode]);

  const chosenNode = nodes.data?.find((node) => String(node.id) === form.values.node);

  const submit = form.onSubmit(({ name, node, path, encrypt, password, useRecoveryKey, recoveryKey }) => {
    const request: CreateDestination = useRecoveryKey ? { name, node, path, password, recoveryKey } : { name, node, path, ...(encrypt ? { password } : {}) };
    create.mutate(request, {
      onSuccess: (destination) => {
        if (useRecoveryKey) {
          const held = destination.backups > 0 ? ` It holds ${destination.backups} backup${destination.backups === 1 ? '' : 's'}: Re-import brings them into the catalog.` : '';
          notifications.show({
            color: 'green',
            message: `Destination ${destination.name} added with its recovery key; its new password is set and the old one no longer opens it.${held}`,
          });
          onClose();
          return;
        }
        notifications.show({
          color: 'green',
          message: `Destination ${destination.name} added${destination.encrypted ? ', encrypted' : ''}. Backups can be stored there now.`,
        });
        if (destination.recoveryKey !== undefined) setAdded({ name: destination.name, recoveryKey: destination.recoveryKey });
        else onClose();
      },
      onError: (error) => {
        if (passwordRefused(error)) setKeyOffered(true);
        // An existing encrypted repository opened without its password: the password field appears, with why.
        showOnField(form, errorField, (field) => {
          if (field !== 'password' || form.values.useRecoveryKey) return;
          if (!form.values.encrypt) form.setFieldValue('encrypt', true);
          // Below the warning, it may be out of sight: bring it there, ready to type.
          requestAnimationFrame(() => {
            passwordInput.current?.focus({ preventScroll: true });
            passwordInput.current?.scrollIntoView({ block: 'center' });
          });
        })(error);
      },
    });
  });

  const chooseRecoveryKey = (on: boolean) => {
    form.setValues({ useRecoveryKey: on, encrypt: true, password: '', confirmPassword: '' });
    form.clearErrors();
    create.reset();
  };
  const recovering = form.values.useRecoveryKey;

  const noNodes = nodes.isSuccess && nodes.data.length === 0;

  return (
    <Modal
      opened
      onClose={onClose}
      title={added === null ? 'Add destination' : 'Recovery key'}
      size="lg"
      // The key is shown once: it must not vanish on a stray click or Escape.
      closeOnClickOutside={!create.isPending && added === null}
      closeOnEscape={added === null}
    >
      {added !== null ? (
        <RecoveryKeyStep destination={added.name} recoveryKey={added.recoveryKey} onDone={onClose} />
      ) : (
        <form onSubmit={submit} noValidate>
          <Stack>
            <FormError error={errorField(create.error) === null ? create.error : null} />
            {noNodes && <NoNodeAlert>A destination is a directory on a node.</NoNodeAlert>}
            <TextInput
              label="Name"
              description="How backups and policies refer to it, e.g. office-nas"
              autoComplete="off"
              data-autofocus
              {...form.getInputProps('name')}
            />
            <NodeSelect
              nodes={nodes.data}
              loading={nodes.isPending}
              description="The node that writes the backups there and reads them for restores"
              {...form.getInputProps('node')}
            />
            <TextInput
              label="Path"
              description="A directory on that node, on a local disk or on an NFS/SMB share already mounted there, e.g. /mnt/nas/vplus. Empty (or missing, under an existing directory): a repository is created. Holding a vPlus repository: it is opened."
              placeholder="/mnt/nas/vplus"
              autoComplete="off"
              spellCheck={false}
              {...form.getInputProps('path')}
            />
            {recovering ? (
              <>
                <Alert color="blue" icon={<IconKey />} title="Open the repository with its recovery key">
                  {`The node opens the encrypted repository at ${form.values.path === '' ? 'the path' : form.values.path} with its recovery key and sets the new password below in its place: the old password will no longer open it (nor will it on any other server that uses this repository). The recovery key keeps working.`}
                </Alert>
                <RecoveryKeyFields form={form} />
                <Anchor component="button" type="button" size="sm" onClick={() => chooseRecoveryKey(false)} w="fit-content">
                  Use the password instead
                </Anchor>
              </>
            ) : (
              <>
                <Switch
                  label="Encrypt backups"
                  description="AES-256 with a key protected by this password; a recovery key to keep offline is shown once the destination is added. It cannot be turned on or off later."
                  {...form.getInputProps('encrypt', { type: 'checkbox' })}
                />
                {form.values.encrypt && (
                  <>
                    <Alert color="yellow" icon={<IconAlertTriangle />} title="Keep the password somewhere safe">
                      Without this password (or the recovery key shown next) the backups on this destination cannot be read by anyone, including
                      you: if it is lost together with this server&apos;s catalog (for example when rebuilding the server and re-importing), the
                      backups are lost too.
                    </Alert>
                    <PasswordInput
                      ref={passwordInput}
                      label="Password"
                      description="At least 8 characters"
                      autoComplete="new-password"
                      {...form.getInputProps('password')}
                    />
                    <PasswordInput label="Confirm password" autoComplete="new-password" {...form.getInputProps('confirmPassword')} />
                    {keyOffered && (
                      <Alert color="gray" icon={<IconKey />} title="Password lost?">
                        <Stack gap="xs" align="flex-start">
                          <Text size="sm">
                            The recovery key shown when this destination was first added opens the repository without the password, and you choose a new
                            password.
                          </Text>
                          <Button variant="light" size="xs" leftSection={<IconKey size={14} aria-hidden />} onClick={() => chooseRecoveryKey(true)}>
                            Use recovery key instead
                          </Button>
                        </Stack>
                      </Alert>
                    )}
                  </>
                )}
              </>
            )}
            {create.isPending && (
              <Text size="sm" c="dimmed" role="status">
                {recovering
                  ? `Opening ${form.values.path} on ${chosenNode?.name ?? 'the node'} with the recovery key and setting the new password…`
                  : `Checking ${form.values.path} on ${chosenNode?.name ?? 'the node'}: that it exists, is writable and has free space…`}
              </Text>
            )}
            <DialogActions>
              <Button variant="default" onClick={onClose} disabled={create.isPending}>
                Cancel
              </Button>
              <Button type="submit" loading={create.isPending}>
                {recovering ? 'Set new password and add' : 'Add destination'}
              </Button>
            </DialogActions>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
