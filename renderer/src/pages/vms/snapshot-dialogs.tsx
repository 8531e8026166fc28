import { CreateSnapshotSchema, isFinalState, type Snapshot, type Task, type Vm } from '@common/api/index.js';
import { SnapshotResultSchema } from '@common/kvm-tasks.js';
import { Alert, Button, Checkbox, Code, Modal, Stack, Text, TextInput } from '@mantine/core';
import { IconCircleCheck } from '@tabler/icons-react';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { applySnapshotTask } from '../../api/snapshot-cache.js';
import { useDeleteSnapshotMutation, useRevertSnapshotMutation, useTakeSnapshotMutation } from '../../api/snapshots.queries.js';
import { useTaskQuery } from '../../api/tasks.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { formatDateTime } from '../../utils/format.js';
import { describeSnapshotState } from '../../utils/snapshot-format.js';
import { SnapshotTaskFollow } from './snapshot-task-follow.js';

/** What a dialog leaves behind when it closes: its task, if one still runs, for the page to follow. */
export interface StartedSnapshotTask {
  taskId: number;
  /** e.g. 'Revert to before-upgrade'. */
  label: string;
}

export interface SnapshotDialogProps {
  vm: Vm;
  onClose: (running: StartedSnapshotTask | null) => void;
}

const succeeded = (task: Task | undefined): boolean => task?.state === 'FINISHED' || task?.state === 'FINISHED_WITH_WARNINGS';

/**
 * The task a dialog started, from the tasks cache that events keep moving. When it ends the
 * VM's snapshot list is written from its result here too: with the socket down, the task is
 * polled and no event does it.
 */
function useSnapshotTask(taskId: number | null) {
  const queryClient = useQueryClient();
  const query = useTaskQuery(taskId ?? 0, taskId !== null);
  const task = taskId === null ? undefined : query.data;
  const ended = task !== undefined && isFinalState(task.state) ? task : undefined;
  useEffect(() => {
    if (ended !== undefined) applySnapshotTask(queryClient, ended);
  }, [ended?.id, ended?.state]);
  return { task, running: taskId !== null && (task === undefined || !isFinalState(task.state)) };
}

/** The started task, followed live: state, bar, the node's error where the person is looking, the log. */
function FollowSection({ taskId, task, label, errorTitle, success }: { taskId: number | null; task: Task | undefined; label: string; errorTitle: string; success: ReactNode }) {
  if (taskId === null) return null;
  return (
    <Stack gap="sm">
      <SnapshotTaskFollow taskId={taskId} label={label} errorTitle={errorTitle} />
      {task !== undefined && !isFinalState(task.state) && (
        <Text size="xs" c="dimmed">
          You may close this dialog: the task goes on, and the Snapshots section shows how it ends.
        </Text>
      )}
      {succeeded(task) && (
        <Alert color="green" icon={<IconCircleCheck />} role="status" data-testid="snapshot-success">
          {success}
        </Alert>
      )}
    </Stack>
  );
}

/** Confirmations focus Close, so Enter never reverts or deletes by accident. */
function Footer({ onClose, focusClose = false, children }: { onClose: () => void; focusClose?: boolean; children?: ReactNode }) {
  return (
    <DialogActions>
      <Button variant="default" onClick={onClose} data-autofocus={focusClose || undefined}>
        Close
      </Button>
      {children}
    </DialogActions>
  );
}

/** The name a finished "take snapshot" gave: the one asked for, or libvirt's current snapshot (the one just made). */
function takenName(task: Task | undefined, asked: string | undefined): string | null {
  if (asked !== undefined) return asked;
  const result = SnapshotResultSchema.safeParse(task?.result);
  return result.success ? (result.data.snapshots.find((snapshot) => snapshot.current)?.name ?? null) : null;
}

function nameProblem(name: string, existing: readonly string[]): string | null {
  if (name === '') return null;
  const parsed = CreateSnapshotSchema.safeParse({ name });
  if (!parsed.success) return parsed.error.issues[0]?.message ?? 'Not a valid snapshot name';
  if (existing.includes(name)) return `There is already a snapshot named ${name}`;
  return null;
}

export function TakeSnapshotDialog({ vm, existing, onClose }: SnapshotDialogProps & { existing: readonly string[] }) {
  const take = useTakeSnapshotMutation();
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const [taskId, setTaskId] = useState<number | null>(null);
  const [asked, setAsked] = useState<string | undefined>(undefined);
  const { task, running } = useSnapshotTask(taskId);
  const close = () => onClose(running && taskId !== null ? { taskId, label: asked === undefined ? 'Take a snapshot' : `Take snapshot ${asked}` } : null);
  // A failed attempt may be tried again (another name, the VM started); a running or done one not.
  const locked = taskId !== null && (running || succeeded(task));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    const problem = nameProblem(trimmed, existing);
    setNameError(problem);
    if (problem !== null) return;
    const wanted = trimmed === '' ? undefined : trimmed;
    take.mutate(
      { vmId: vm.id, name: wanted },
      {
        onSuccess: (started) => {
          setAsked(wanted);
          setTaskId(started.id);
        },
      },
    );
  };

  const taken = takenName(task, asked);
  return (
    <Modal opened onClose={close} title={`Take a snapshot of ${vm.name}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">
            {`Saves the VM's disks${vm.state === 'running' ? ' and memory' : ''} as they are now, inside its qcow2 disk images on ${vm.hypervisor}. ${vm.state === 'running' ? 'The VM keeps running. ' : ''}A snapshot lets you go back to this moment; it is not a backup: it lives in the same disk images, on the same host.`}
          </Text>
          <TextInput
            label="Name"
            description='Optional. Letters, digits, ".", "_" and "-". Left empty, the node names it vplus-<time>.'
            placeholder="before-upgrade"
            autoComplete="off"
            spellCheck={false}
            value={name}
            onChange={(event) => {
              setName(event.currentTarget.value);
              setNameError(null);
            }}
            error={nameError}
            disabled={locked}
            data-autofocus
          />
          <FormError error={take.error} />
          <FollowSection
            taskId={taskId}
            task={task}
            label="Snapshot"
            errorTitle="The snapshot was not taken"
            success={taken === null ? 'The snapshot was taken.' : <>Snapshot <Code>{taken}</Code> taken.</>}
          />
          <Footer onClose={close}>
            {!locked && (
              <Button type="submit" loading={take.isPending}>
                {taskId === null ? 'Take snapshot' : 'Try again'}
              </Button>
            )}
          </Footer>
        </Stack>
      </form>
    </Modal>
  );
}

export function RevertSnapshotDialog({ vm, snapshot, onClose }: SnapshotDialogProps & { snapshot: Snapshot }) {
  const revert = useRevertSnapshotMutation();
  const [discard, setDiscard] = useState(false);
  const [taskId, setTaskId] = useState<number | null>(null);
  const { task, running } = useSnapshotTask(taskId);
  const close = () => onClose(running && taskId !== null ? { taskId, label: `Revert to ${snapshot.name}` } : null);
  // After a refusal (checkpoints) the choice is open again, right under the node's reason.
  const locked = taskId !== null && (running || succeeded(task));
  const captured = describeSnapshotState(snapshot.state);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    revert.mutate({ vmId: vm.id, name: snapshot.name, discardCheckpoints: discard }, { onSuccess: (started) => setTaskId(started.id) });
  };

  return (
    <Modal opened onClose={close} title={`Revert ${vm.name} to ${snapshot.name}?`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">
            {`Reverting puts ${vm.name} back to the moment snapshot ${snapshot.name} was taken (${formatDateTime(snapshot.createdAt)}): ${captured.detail}. Whatever the VM wrote since is lost, unless another snapshot holds it. The snapshots themselves stay.`}
          </Text>
          <Checkbox
            label="Discard backup checkpoints first (the next backup will be a full one)"
            description="Backup checkpoints let the next backup read only what changed. QEMU cannot load a snapshot while they exist, so without this a VM with backup checkpoints cannot be reverted: the node refuses and nothing is changed. Only the checkpoints vPlus made are deleted; the backups stay."
            checked={discard}
            disabled={locked}
            onChange={(event) => setDiscard(event.currentTarget.checked)}
          />
          <FormError error={revert.error} />
          <FollowSection
            taskId={taskId}
            task={task}
            label="Revert"
            errorTitle="The VM was not reverted"
            success={
              <>
                {vm.name} is back at <Code>{snapshot.name}</Code>.
                {discard ? ' Its backup checkpoints were deleted: its next backup is a full one.' : ''}
              </>
            }
          />
          <Footer onClose={close} focusClose>
            {!locked && (
              <Button type="submit" color="orange" loading={revert.isPending}>
                {taskId === null ? 'Revert' : 'Revert again'}
              </Button>
            )}
          </Footer>
        </Stack>
      </form>
    </Modal>
  );
}

export function DeleteSnapshotDialog({ vm, snapshot, onClose }: SnapshotDialogProps & { snapshot: Snapshot }) {
  const remove = useDeleteSnapshotMutation();
  const [taskId, setTaskId] = useState<number | null>(null);
  const { task, running } = useSnapshotTask(taskId);
  const close = () => onClose(running && taskId !== null ? { taskId, label: `Delete ${snapshot.name}` } : null);
  const locked = taskId !== null && (running || succeeded(task));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    remove.mutate({ vmId: vm.id, name: snapshot.name }, { onSuccess: (started) => setTaskId(started.id) });
  };

  return (
    <Modal opened onClose={close} title={`Delete snapshot ${snapshot.name}?`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">
            {`${vm.name} is not changed: only the state saved at ${formatDateTime(snapshot.createdAt)} goes, and with it the way back to that moment. Its data is removed from the VM's disk images.`}
          </Text>
          <FormError error={remove.error} />
          <FollowSection
            taskId={taskId}
            task={task}
            label="Delete"
            errorTitle="The snapshot was not deleted"
            success={
              <>
                Snapshot <Code>{snapshot.name}</Code> deleted.
              </>
            }
          />
          <Footer onClose={close} focusClose>
            {!locked && (
              <Button type="submit" color="red" loading={remove.isPending}>
                {taskId === null ? 'Delete snapshot' : 'Try again'}
              </Button>
            )}
          </Footer>
        </Stack>
      </form>
    </Modal>
  );
}
