import { RestoreSchema, type Backup, type Hypervisor, type Node, type Restore, type TaskDetails, type Vm } from '@common/api/index.js';
import { ImportResultSchema, RestoreResultSchema } from '@common/kvm-tasks.js';
import { Alert, Anchor, Badge, Button, Checkbox, Group, List, Modal, MultiSelect, Radio, Select, Stack, Stepper, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { IconInfoCircle } from '@tabler/icons-react';
import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { fieldErrorMessage, isApiError } from '../../api/api-error.js';
import { useStartRestoreMutation, type StartedWorkflow } from '../../api/backups.queries.js';
import { useHypervisorsQuery } from '../../api/hypervisors.queries.js';
import { useNodesQuery } from '../../api/nodes.queries.js';
import { useVmsQuery } from '../../api/vms.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { PathText } from '../../components/path-text.js';
import { WorkflowFollow, type WorkflowStep } from '../../components/tasks/workflow-follow.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { BACKUP_TYPE_LABELS } from '../../utils/vm-format.js';
import { NodeSelect } from '../../components/node-select.js';

type Mode = Restore['mode'];

interface RestoreForm {
  backup: string;
  mode: Mode;
  // Files on a node
  node: string;
  path: string;
  format: 'qcow2' | 'raw';
  /** Empty: every disk the backup holds. */
  disks: string[];
  overwriteFiles: boolean;
  // New VM on a hypervisor
  hypervisor: string;
  name: string;
  storageDir: string;
  start: boolean;
  overwriteVm: boolean;
  /** The destination to read the backup from: 'own' its own, else the id of one holding a complete copy. */
  source: string;
}

/** Form field ← RestoreSchema field, so the contract's messages land next to the right input. */
const FIELD_OF: Record<string, keyof RestoreForm> = {
  backup: 'backup',
  node: 'node',
  path: 'path',
  format: 'format',
  disks: 'disks',
  hypervisor: 'hypervisor',
  name: 'name',
  storageDir: 'storageDir',
  fromDestinationId: 'source',
};

/** The Select value of "the backup's own destination". */
const OWN = 'own';

/** Where a backup can be read from: its own destination while it is available there, and each complete copy. */
export function readableFrom(backup: Backup): { value: string; label: string }[] {
  const own = backup.status === 'available' ? [{ value: OWN, label: `${backup.destination} (where it was made)` }] : [];
  return [...own, ...(backup.copies ?? []).filter((c) => c.state === 'ok').map((c) => ({ value: String(c.destinationId), label: `${c.destination} (copy)` }))];
}

const restorable = (backup: Backup): boolean => readableFrom(backup).length > 0;

export function restoreRequest(values: RestoreForm): unknown {
  const backup = Number(values.backup);
  const from = values.source === OWN || values.source === '' ? {} : { fromDestinationId: Number(values.source) };
  if (values.mode === 'files') {
    return {
      mode: 'files',
      backup,
      ...from,
      node: values.node,
      path: values.path.trim(),
      format: values.format,
      ...(values.disks.length > 0 ? { disks: values.disks } : {}),
      overwrite: values.overwriteFiles,
    };
  }
  const storageDir = values.storageDir.trim();
  return {
    mode: 'import',
    backup,
    ...from,
    hypervisor: values.hypervisor,
    name: values.name.trim(),
    ...(storageDir === '' ? {} : { storageDir }),
    start: values.start,
    overwrite: values.overwriteVm,
  };
}

/** The request the form describes, or the form's errors in the contract's words. */
function validateRestore(values: RestoreForm): { request: Restore } | { errors: Partial<Record<keyof RestoreForm, string>> } {
  const errors: Partial<Record<keyof RestoreForm, string>> = {};
  if (values.backup === '') errors.backup = 'Choose the backup point to restore';
  if (values.mode === 'files') {
    if (values.node === '') errors.node = 'Choose the node that writes the files';
    if (values.path.trim() === '') errors.path = 'The directory the disks and the VM XML are written to';
  } else {
    if (values.hypervisor === '') errors.hypervisor = 'Choose the host to define the VM on';
    if (values.name.trim() === '') errors.name = 'A name for the new VM';
  }
  const parsed = RestoreSchema.safeParse(restoreRequest(values));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = FIELD_OF[String(issue.path[0])];
      if (field !== undefined && errors[field] === undefined) errors[field] = issue.message;
    }
  }
  if (Object.keys(errors).length > 0 || !parsed.success) return { errors };
  return { request: parsed.data };
}

function backupLabel(backup: Backup): string {
  const type = backup.type === null ? 'Backup' : BACKUP_TYPE_LABELS[backup.type];
  return `${formatDateTime(backup.createdAt)} · ${type} · ${backup.destination} · ${formatBytes(backup.logicalBytes)}`;
}

function defaultNode(vm: Vm, hypervisors: readonly Hypervisor[], nodes: readonly Node[]): string {
  // The VM's own host is where its disks usually go back to.
  const hostNode = hypervisors.find((hypervisor) => hypervisor.id === vm.hypervisorId)?.nodeId;
  const online = nodes.filter((node) => node.status === 'online');
  if (online.some((node) => node.id === hostNode)) return String(hostNode);
  return online.length === 1 ? String(online[0]?.id) : '';
}

function FilesWritten({ task }: { task: TaskDetails | undefined }) {
  const result = RestoreResultSchema.safeParse(task?.result);
  if (!result.success) return <Text size="sm">The files are written.</Text>;
  const { directory, files, domainXmlPath } = result.data;
  return (
    <Stack gap={6} data-testid="restore-result">
      <Text size="sm" fw={500}>
        {'Files written to '}
        <PathText path={directory} />
      </Text>
      <List size="sm" spacing={2}>
        {files.map((file) => (
          <List.Item key={file.path}>
            <PathText path={file.path} code /> {`(${file.target}, ${file.format}, ${formatBytes(file.size)})`}
          </List.Item>
        ))}
        {domainXmlPath !== null && (
          <List.Item>
            <PathText path={domainXmlPath} code /> (the VM&apos;s libvirt XML)
          </List.Item>
        )}
      </List>
    </Stack>
  );
}

function VmDefined({ task, hypervisor }: { task: TaskDetails | undefined; hypervisor: string }) {
  const result = ImportResultSchema.safeParse(task?.result);
  if (!result.success) return <Text size="sm">{`The VM is defined on ${hypervisor}.`}</Text>;
  return <VmDefinedText {...result.data} hypervisor={hypervisor} />;
}

function VmDefinedText({ name, uuid, started, hypervisor }: { name: string; uuid: string; started: boolean; hypervisor: string }) {
  // The server syncs the host after an import; the link appears once the new VM is in the inventory.
  const vms = useVmsQuery();
  const listed = vms.data?.find((vm) => vm.uuid === uuid);
  return (
    <Stack gap={4} data-testid="import-result">
      <Text size="sm" fw={500}>{`VM ${name} is defined on ${hypervisor}${started ? ' and running' : ''}.`}</Text>
      <Text size="xs" c="dimmed">
        {`UUID ${uuid}. It has new MAC addresses${started ? '' : '; start it when you are ready'}.`}
      </Text>
      {listed !== undefined && (
        <Anchor component={Link} to={`/vms/${listed.id}`} size="sm">
          {`Open ${listed.name}`}
        </Anchor>
      )}
    </Stack>
  );
}

interface RestoreWizardProps {
  vm: Vm;
  /** The VM's backups; removed ones are shown but cannot be chosen. */
  backups: readonly Backup[];
  /** The backup point to start from (a row's "Restore"); the newest when absent. */
  initialBackupId?: number;
  onClose: () => void;
}

/**
 * Restore in three steps: the backup point, the target (files on a node, or a new VM on a
 * hypervisor), then the workflow followed live: RESTORE, and IMPORT for a new VM.
 */
export function RestoreWizard({ vm, backups, initialBackupId, onClose }: RestoreWizardProps) {
  const nodes = useNodesQuery();
  const hypervisors = useHypervisorsQuery();
  const start = useStartRestoreMutation();
  const [active, setActive] = useState(0);
  const [workflow, setWorkflow] = useState<{ started: StartedWorkflow; mode: Mode; hypervisor: string } | null>(null);

  const points = useMemo(() => [...backups].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)), [backups]);
  const initial = points.find((backup) => backup.id === initialBackupId && restorable(backup)) ?? points.find((backup) => restorable(backup));

  const form = useForm<RestoreForm>({
    mode: 'controlled',
    initialValues: {
      backup: initial === undefined ? '' : String(initial.id),
      mode: 'files',
      node: '',
      path: '',
      format: 'qcow2',
      disks: [],
      overwriteFiles: false,
      hypervisor: String(vm.hypervisorId),
      name: `${vm.name}-restored`,
      storageDir: '',
      start: false,
      overwriteVm: false,
      source: initial === undefined ? OWN : (readableFrom(initial)[0]?.value ?? OWN),
    },
  });

  // The node list arrives after the form: then offer the VM's own host, if it is online.
  const suggestedNode = defaultNode(vm, hypervisors.data ?? [], nodes.data ?? []);
  useEffect(() => {
    if (suggestedNode !== '' && form.values.node === '') form.setFieldValue('node', suggestedNode);
  }, [suggestedNode]);

  const chosen = points.find((backup) => String(backup.id) === form.values.backup);
  const locked = workflow !== null;

  const next = () => {
    if (form.values.backup === '') {
      form.setFieldError('backup', 'Choose the backup point to restore');
      return;
    }
    setActive(1);
  };

  const submit = () => {
    const outcome = validateRestore(form.values);
    if ('errors' in outcome) {
      form.setErrors(outcome.errors);
      if (outcome.errors.backup !== undefined) setActive(0);
      return;
    }
    const hypervisorName = hypervisors.data?.find((hypervisor) => String(hypervisor.id) === form.values.hypervisor)?.name ?? vm.hypervisor;
    start.mutate(outcome.request, {
      onSuccess: (started) => {
        setWorkflow({ started, mode: outcome.request.mode, hypervisor: hypervisorName });
        setActive(2);
      },
      onError: (error) => {
        if (!isApiError(error) || error.field === undefined) return;
        const field = FIELD_OF[error.field];
        if (field !== undefined) form.setFieldError(field, fieldErrorMessage(error, field));
      },
    });
  };

  const steps: WorkflowStep[] =
    workflow === null
      ? []
      : workflow.started.taskIds.map((taskId, index) => ({ taskId, label: index === 0 ? 'Restore' : index === 1 ? 'Import' : `Step ${index + 1}` }));
  const serverFieldShown = isApiError(start.error) && start.error.field !== undefined && FIELD_OF[start.error.field] !== undefined;

  return (
    <Modal opened onClose={onClose} title={`Restore ${vm.name}`} size="xl" closeOnClickOutside={!locked && !start.isPending}>
      <Stack>
        <Stepper active={active} onStepClick={locked ? undefined : (step) => step < active && setActive(step)} size="sm" allowNextStepsSelect={false}>
          <Stepper.Step label="Backup point" description={chosen === undefined ? 'Choose one' : formatDateTime(chosen.createdAt)}>
            <Stack mt="md">
              <Select
                label="Backup point"
                description="Every backup restores the whole VM as it was then, incremental ones included."
                placeholder={points.length === 0 ? 'This VM has no backup yet' : 'Choose a backup'}
                data={points.map((backup) => ({
                  value: String(backup.id),
                  label: backup.status === 'available' ? backupLabel(backup) : restorable(backup) ? `${backupLabel(backup)} (from a copy)` : `${backupLabel(backup)} (removed)`,
                  disabled: !restorable(backup),
                }))}
                allowDeselect={false}
                data-autofocus
                {...form.getInputProps('backup')}
                onChange={(value: string | null) => {
                  form.setFieldValue('backup', value ?? '');
                  const picked = points.find((backup) => String(backup.id) === value);
                  form.setFieldValue('source', picked === undefined ? OWN : (readableFrom(picked)[0]?.value ?? OWN));
                }}
              />
              {chosen !== undefined && (chosen.copies ?? []).some((c) => c.state === 'ok') && (
                <Select
                  label="Read it from"
                  description="The backup, or one of its copies on another destination: they restore the same."
                  data={readableFrom(chosen)}
                  allowDeselect={false}
                  data-testid="restore-source"
                  {...form.getInputProps('source')}
                />
              )}
              {chosen !== undefined && (
                <Group gap="xs">
                  {chosen.type !== null && (
                    <Badge variant="light" color={chosen.type === 'full' ? 'indigo' : 'cyan'}>
                      {BACKUP_TYPE_LABELS[chosen.type]}
                    </Badge>
                  )}
                  <Text size="sm" c="dimmed">
                    {`${formatBytes(chosen.logicalBytes)} of disk data on ${chosen.destination}`}
                  </Text>
                </Group>
              )}
              <DialogActions>
                <Button variant="default" onClick={onClose}>
                  Cancel
                </Button>
                <Button onClick={next} disabled={points.length === 0}>
                  Next
                </Button>
              </DialogActions>
            </Stack>
          </Stepper.Step>

          <Stepper.Step label="Target" description={form.values.mode === 'files' ? 'Files on a node' : 'New VM on a hypervisor'}>
            <form
              noValidate
              onSubmit={(event) => {
                event.preventDefault();
                submit();
              }}
            >
              <Stack mt="md">
                <Radio.Group label="Restore to" {...form.getInputProps('mode')}>
                  <Group mt="xs">
                    <Radio value="files" label="Files on a node" />
                    <Radio value="import" label="New VM on a hypervisor" />
                  </Group>
                </Radio.Group>
                {form.values.mode === 'files' ? (
                  <>
                    <NodeSelect
                      nodes={nodes.data}
                      loading={nodes.isPending}
                      description="The node that writes the disk images and the VM's XML"
                      {...form.getInputProps('node')}
                    />
                    <TextInput
                      label="Directory"
                      description="An absolute path on that node, e.g. a share mounted there"
                      placeholder={`/var/tmp/restore/${vm.name}`}
                      autoComplete="off"
                      spellCheck={false}
                      {...form.getInputProps('path')}
                    />
                    <Select
                      label="Format"
                      data={[
                        { value: 'qcow2', label: 'qcow2 (sparse, for libvirt)' },
                        { value: 'raw', label: 'raw (plain disk image)' },
                      ]}
                      allowDeselect={false}
                      {...form.getInputProps('format')}
                    />
                    <MultiSelect
                      label="Disks"
                      description="Leave empty for every disk in the backup"
                      placeholder={form.values.disks.length === 0 ? 'All disks' : undefined}
                      data={vm.disks.map((disk) => ({ value: disk.target, label: disk.path === null ? disk.target : `${disk.target} (${disk.path})` }))}
                      clearable
                      {...form.getInputProps('disks')}
                    />
                    <Checkbox label="Overwrite existing files" description="Otherwise the restore stops before replacing a file already in the directory." {...form.getInputProps('overwriteFiles', { type: 'checkbox' })} />
                  </>
                ) : (
                  <>
                    <Select
                      label="Hypervisor"
                      description="The KVM host the new VM is defined on"
                      placeholder={hypervisors.isPending ? 'Loading hypervisors…' : 'Choose a hypervisor'}
                      data={(hypervisors.data ?? []).map((hypervisor) => ({ value: String(hypervisor.id), label: `${hypervisor.name} (${hypervisor.node})` }))}
                      allowDeselect={false}
                      {...form.getInputProps('hypervisor')}
                    />
                    <TextInput
                      label="New VM name"
                      description="The restored VM gets this name, a new UUID and new MAC addresses, so it can run next to the original."
                      autoComplete="off"
                      spellCheck={false}
                      {...form.getInputProps('name')}
                    />
                    <TextInput
                      label="Storage directory"
                      description="A directory on the host; the disks go into a subdirectory named after the new VM. Empty: /var/lib/libvirt/images."
                      placeholder="/var/lib/libvirt/images"
                      autoComplete="off"
                      spellCheck={false}
                      {...form.getInputProps('storageDir')}
                    />
                    <Checkbox label="Start after import" {...form.getInputProps('start', { type: 'checkbox' })} />
                    <Checkbox
                      label="Overwrite an existing VM or disk files of that name"
                      description="Otherwise the import stops before replacing anything."
                      {...form.getInputProps('overwriteVm', { type: 'checkbox' })}
                    />
                  </>
                )}
                {(form.values.overwriteFiles && form.values.mode === 'files') || (form.values.overwriteVm && form.values.mode === 'import') ? (
                  <Alert color="yellow" variant="light" icon={<IconInfoCircle />}>
                    What is there now is replaced and cannot be recovered from this restore.
                  </Alert>
                ) : null}
                <FormError error={serverFieldShown ? null : start.error} />
                <DialogActions justify="space-between">
                  <Button variant="default" onClick={() => setActive(0)} disabled={start.isPending}>
                    Back
                  </Button>
                  <Button type="submit" loading={start.isPending}>
                    Start restore
                  </Button>
                </DialogActions>
              </Stack>
            </form>
          </Stepper.Step>

          <Stepper.Step label="Progress" description={workflow === null ? 'Follow it live' : workflow.mode === 'files' ? 'Restore' : 'Restore, then import'}>
            {workflow !== null && (
              <Stack mt="md">
                <WorkflowFollow
                  steps={steps}
                  successTitle={workflow.mode === 'files' ? 'Restored' : 'Restored and imported'}
                  failureTitle="The restore failed"
                  renderSuccess={(tasks) =>
                    workflow.mode === 'files' ? <FilesWritten task={tasks[0]} /> : <VmDefined task={tasks.at(-1)} hypervisor={workflow.hypervisor} />
                  }
                />
                <DialogActions>
                  <Button variant="default" onClick={onClose}>
                    Close
                  </Button>
                </DialogActions>
              </Stack>
            )}
          </Stepper.Step>
        </Stepper>
      </Stack>
    </Modal>
  );
}
