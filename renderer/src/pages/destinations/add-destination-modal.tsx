import { CreateDestinationSchema, DestinationNameSchema, DestinationPathSchema, type CreateDestination } from '@common/api/index.js';
import { Alert, Anchor, Button, Modal, PasswordInput, SegmentedControl, Stack, Switch, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconKey } from '@tabler/icons-react';
import { useEffect, useRef, useState } from 'react';
import { z } from 'zod';
import { isApiError, showOnField } from '../../api/api-error.js';
import { useCheckS3DestinationMutation, useCreateDestinationMutation } from '../../api/destinations.queries.js';
import { useNodesQuery } from '../../api/nodes.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { NodeSelect, NoNodeAlert } from '../../components/node-select.js';
import { plainResolver } from '../../utils/form-validation.js';
import { RecoveryKeyFields, RecoveryKeyFieldSchema } from './recovery-key-fields.js';
import { RecoveryKeyStep } from './recovery-key-step.js';
import { EMPTY_S3_FORM, S3DestinationFields, S3FormValuesSchema, s3Issues, s3Request } from './s3-destination-fields.js';

// The server's rules (common/api), plus what only a person needs: the confirmation.
const AddDestinationFormSchema = z
  .object({
    name: DestinationNameSchema,
    node: z.string().min(1, 'Choose the node that reaches the path'),
    /** A directory on the node, or a bucket of an S3-compatible store. */
    kind: z.enum(['directory', 's3']),
    path: z.string(),
    s3: S3FormValuesSchema,
    encrypt: z.boolean(),
    password: z.string(),
    confirmPassword: z.string(),
    /** Open the encrypted repository at the path with its recovery key, and set the password as its new one. */
    useRecoveryKey: z.boolean(),
    recoveryKey: z.string(),
  })
  .superRefine((values, ctx) => {
    if (values.kind === 'directory') {
      const path = DestinationPathSchema.safeParse(values.path);
      if (!path.success) ctx.addIssue({ code: 'custom', path: ['path'], message: path.error.issues[0]?.message ?? 'Invalid path' });
    } else {
      for (const issue of s3Issues(values.s3)) ctx.addIssue({ code: 'custom', ...issue });
    }
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

const S3_FIELDS = ['s3.endpoint', 's3.region', 's3.bucket', 's3.prefix', 's3.accessKeyId', 's3.secretAccessKey', 's3.caPem', 's3.forcePathStyle'] as const;
const FIELDS = ['name', 'node', 'path', 'password', 'recoveryKey', ...S3_FIELDS, 's3.lockMode', 's3.lockDays'] as const;
type Field = (typeof FIELDS)[number];

/**
 * Where a refusal belongs: the field the server names; otherwise a refusal from the node's check
 * (400, 409, 502: path missing, not writable, not mounted, …) is about the path.
 */
/** The node could not open the repository at the path with the password given (wrong, or none): the recovery key may. */
function passwordRefused(error: unknown): boolean {
  return isApiError(error, 400) && error.field === 'password' && error.code === 'DESTINATION_CHECK_FAILED';
}

function errorField(error: unknown, kind: 'directory' | 's3' = 'directory'): Field | null {
  if (!isApiError(error)) return null;
  // The server names the lock as a whole ("s3.lock") or its parts ("s3.lock.days").
  const said = error.field === 's3.lock' || error.field === 's3.lock.mode' ? 's3.lockMode' : error.field === 's3.lock.days' ? 's3.lockDays' : error.field;
  const named = FIELDS.find((field) => field === said);
  if (named !== undefined) return named;
  if (kind === 'directory' && error.field === undefined && [400, 409, 502].includes(error.status)) return 'path';
  return null;
}

export function AddDestinationModal({ onClose }: { onClose: () => void }) {
  const create = useCreateDestinationMutation();
  const check = useCheckS3DestinationMutation();
  /** An encrypted destination just added: its recovery key, shown this once. */
  const [added, setAdded] = useState<{ name: string; recoveryKey: string } | null>(null);
  /** The repository at the path refused the password: offer its recovery key instead. */
  const [keyOffered, setKeyOffered] = useState(false);
  const passwordInput = useRef<HTMLInputElement>(null);
  /** Bumped when the server asks for the password: the field gets the focus once it is on screen. */
  const [passwordWanted, setPasswordWanted] = useState(0);
  const nodes = useNodesQuery();
  const form = useForm<AddDestinationForm>({
    mode: 'controlled',
    // Encrypted unless the admin says otherwise: backups often leave the building.
    initialValues: { name: '', node: '', kind: 'directory', path: '', s3: EMPTY_S3_FORM, encrypt: true, password: '', confirmPassword: '', useRecoveryKey: false, recoveryKey: '' },
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

  // Below the warning, the password field may be out of sight: bring it there, ready to type.
  // An effect, not a callback: it runs after the commit that shows the field (the switch turned
  // encryption back on), so the input exists; a frame callback could run before that commit.
  const encrypt = form.values.encrypt;
  useEffect(() => {
    if (passwordWanted === 0 || !encrypt) return;
    passwordInput.current?.focus({ preventScroll: true });
    passwordInput.current?.scrollIntoView({ block: 'center' });
  }, [passwordWanted, encrypt]);

  const chosenNode = nodes.data?.find((node) => String(node.id) === form.values.node);

  const kind = form.values.kind;
  const fieldOf = (error: unknown) => errorField(error, kind);
  const submit = form.onSubmit(({ name, node, kind, path, s3, encrypt, password, useRecoveryKey, recoveryKey }) => {
    const where = kind === 's3' ? { s3: CreateDestinationSchema.shape.s3.unwrap().parse(s3Request(s3)) } : { path };
    const request: CreateDestination = useRecoveryKey ? { name, node, ...where, password, recoveryKey } : { name, node, ...where, ...(encrypt ? { password } : {}) };
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
        showOnField(form, fieldOf, (field) => {
          if (field !== 'password' || form.values.useRecoveryKey) return;
          if (!form.values.encrypt) form.setFieldValue('encrypt', true);
          setPasswordWanted((n) => n + 1);
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

  /** Check (S3): the node tries the endpoint, keys and bucket now; what is wrong shows under its field. */
  const runCheck = () => {
    check.reset();
    const issues = s3Issues(form.values.s3);
    const nodeMissing = form.values.node === '';
    if (nodeMissing) form.setFieldError('node', 'Choose the node that talks to the store');
    for (const issue of issues) form.setFieldError(issue.path.join('.') as Field, issue.message);
    if (issues.length > 0 || nodeMissing) return;
    for (const field of S3_FIELDS) form.clearFieldError(field);
    const s3 = CreateDestinationSchema.shape.s3.unwrap().parse(s3Request(form.values.s3));
    const password = form.values.encrypt && form.values.password !== '' ? { password: form.values.password } : {};
    check.mutate({ node: form.values.node, s3, ...password }, { onError: showOnField(form, (error) => errorField(error, 's3')) });
  };
  const where = kind === 's3' ? (form.values.s3.bucket === '' ? 'the bucket' : `bucket ${form.values.s3.bucket}`) : form.values.path;

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
            <FormError error={fieldOf(create.error) === null ? create.error : null} />
            <FormError error={errorField(check.error, 's3') === null ? check.error : null} />
            {noNodes && <NoNodeAlert>A destination is a directory on a node, or a bucket a node reaches.</NoNodeAlert>}
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
              description={kind === 's3' ? 'The node that talks to the store: it writes the backups there and reads them for restores' : 'The node that writes the backups there and reads them for restores'}
              {...form.getInputProps('node')}
            />
            <SegmentedControl
              aria-label="Kind of destination"
              data={[
                { value: 'directory', label: 'Directory on a node' },
                { value: 's3', label: 'S3-compatible' },
              ]}
              {...form.getInputProps('kind')}
              onChange={(value) => {
                form.setFieldValue('kind', value as 'directory' | 's3');
                form.clearErrors();
                create.reset();
                check.reset();
              }}
            />
            {kind === 's3' ? (
              <S3DestinationFields
                form={form}
                onCheck={runCheck}
                checking={check.isPending}
                checked={check.data ? `${check.data.message.charAt(0).toUpperCase()}${check.data.message.slice(1)}.` : null}
              />
            ) : (
              <TextInput
                label="Path"
                description="A directory on that node, on a local disk or on an NFS/SMB share already mounted there, e.g. /mnt/nas/vplus. Empty (or missing, under an existing directory): a repository is created. Holding a vPlus repository: it is opened."
                placeholder="/mnt/nas/vplus"
                autoComplete="off"
                spellCheck={false}
                {...form.getInputProps('path')}
              />
            )}
            {recovering ? (
              <>
                <Alert color="blue" icon={<IconKey />} title="Open the repository with its recovery key">
                  {`The node opens the encrypted repository at ${where === '' ? 'the path' : where} with its recovery key and sets the new password below in its place: the old password will no longer open it (nor will it on any other server that uses this repository). The recovery key keeps working.`}
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
                  ? `Opening ${where} ${kind === 's3' ? 'from' : 'on'} ${chosenNode?.name ?? 'the node'} with the recovery key and setting the new password…`
                  : kind === 's3'
                    ? `Checking ${where} from ${chosenNode?.name ?? 'the node'}: the endpoint, the keys and the repository…`
                    : `Checking ${where} on ${chosenNode?.name ?? 'the node'}: that it exists, is writable and has free space…`}
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
