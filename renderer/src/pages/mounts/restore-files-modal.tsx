import { MountRestoreRequestSchema, type Mount, type MountRestoreRequest, type TaskDetails } from '@common/api/index.js';
import { FileRestoreResultSchema } from '@common/mount-tasks.js';
import { Alert, Button, Checkbox, List, Modal, Stack, Text, TextInput } from '@mantine/core';
import { IconCircleCheck, IconInfoCircle } from '@tabler/icons-react';
import { useState, type FormEvent } from 'react';
import { isApiError } from '../../api/api-error.js';
import { useRestoreFilesMutation } from '../../api/mounts.queries.js';
import { useNodesQuery } from '../../api/nodes.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { NodeSelect } from '../../components/node-select.js';
import { PathText } from '../../components/path-text.js';
import { TaskFollow } from '../../components/tasks/task-follow.js';
import { formatBytes } from '../../utils/format.js';

type Field = 'node' | 'path';
const SHOWN = 5;

interface RestoreFilesModalProps {
  mount: Mount;
  /** Paths in the mount ('vda1/etc/hosts'). */
  paths: readonly string[];
  onClose: () => void;
}

/** The request, or the contract's message on the field it is about. */
export function validateFileRestore(
  paths: readonly string[],
  node: string,
  mountNode: string,
  directory: string,
  overwrite: boolean,
): { request: MountRestoreRequest } | { errors: Partial<Record<Field, string>> } {
  if (node === '') return { errors: { node: 'Choose the node that writes the files' } };
  // Left out for the mount's own node, the server's default (and the only one a copy needs no network for).
  const request: MountRestoreRequest = { paths: [...paths], ...(node === mountNode ? {} : { node }), path: directory.trim(), overwrite };
  const parsed = MountRestoreRequestSchema.safeParse(request);
  if (parsed.success) return { request };
  const issue = parsed.error.issues.find((candidate) => candidate.path[0] === 'path') ?? parsed.error.issues[0];
  return { errors: { path: issue?.path[0] === 'path' && directory.trim() !== '' ? issue.message : 'An absolute directory on the node, e.g. /srv/restored' } };
}

function Restored({ task }: { task: TaskDetails }) {
  const result = FileRestoreResultSchema.safeParse(task.result);
  if (!result.success) return null;
  const { directory, entries, bytes, skipped } = result.data;
  return (
    <Alert color="green" icon={<IconCircleCheck />} title="Restored" role="status" data-testid="file-restore-result">
      <Stack gap={4}>
        <Text size="sm">
          {`${entries} ${entries === 1 ? 'entry' : 'entries'} (${formatBytes(bytes)}) written to `}
          <PathText path={directory} />
        </Text>
        {skipped.length > 0 && (
          <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
            {`Skipped (devices, fifos or sockets a plain directory cannot hold): ${skipped.join(', ')}`}
          </Text>
        )}
      </Stack>
    </Alert>
  );
}

/**
 * Restores the selection to a directory on a node (the mount's own by default), then follows
 * the FILE_RESTORE task live in the dialog, with a link to its page.
 */
export function RestoreFilesModal({ mount, paths, onClose }: RestoreFilesModalProps) {
  const nodes = useNodesQuery();
  const restore = useRestoreFilesMutation();
  const [node, setNode] = useState(String(mount.nodeId));
  const [directory, setDirectory] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [taskId, setTaskId] = useState<number | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const outcome = validateFileRestore(paths, node, String(mount.nodeId), directory, overwrite);
    if ('errors' in outcome) {
      setErrors(outcome.errors);
      return;
    }
    setErrors({});
    restore.mutate(
      { id: mount.id, request: outcome.request },
      {
        onSuccess: (task) => setTaskId(task.id),
        onError: (error) => {
          if (isApiError(error) && (error.field === 'node' || error.field === 'path')) setErrors({ [error.field]: error.message });
        },
      },
    );
  };
  const shownOnField = isApiError(restore.error) && (restore.error.field === 'node' || restore.error.field === 'path');
  const locked = taskId !== null;

  return (
    <Modal opened onClose={onClose} title={`Restore ${paths.length === 1 ? 'one item' : `${paths.length} items`}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <List size="sm" spacing={2} aria-label="To restore">
            {paths.slice(0, SHOWN).map((path) => (
              <List.Item key={path}>
                <PathText path={path} code />
              </List.Item>
            ))}
            {paths.length > SHOWN && <List.Item>{`and ${paths.length - SHOWN} more`}</List.Item>}
          </List>
          <NodeSelect
            nodes={nodes.data}
            loading={nodes.isPending}
            description={`The node that writes the files. ${mount.node} holds the mount and copies them directly; another node receives them streamed through the server.`}
            value={node}
            onChange={(value) => setNode(value ?? '')}
            error={errors.node}
            disabled={locked}
          />
          <TextInput
            label="Destination directory"
            description="An absolute path on that node; each item is written into it under its own name, with its times, mode and owner"
            placeholder="/srv/restored"
            autoComplete="off"
            spellCheck={false}
            value={directory}
            onChange={(event) => setDirectory(event.currentTarget.value)}
            error={errors.path}
            disabled={locked}
            data-autofocus
          />
          <Checkbox
            label="Overwrite existing files"
            description="Otherwise the restore stops before replacing anything already there."
            checked={overwrite}
            onChange={(event) => setOverwrite(event.currentTarget.checked)}
            disabled={locked}
          />
          {overwrite && !locked && (
            <Alert color="yellow" variant="light" icon={<IconInfoCircle />}>
              Files already in the directory with the same names are replaced.
            </Alert>
          )}
          <FormError error={shownOnField ? null : restore.error} />
          {taskId !== null && (
            <TaskFollow taskId={taskId} label="File restore" errorTitle="The restore failed" renderResult={(task) => <Restored task={task} />} logHeight={140} />
          )}
          <DialogActions>
            <Button variant="default" onClick={onClose}>
              {locked ? 'Close' : 'Cancel'}
            </Button>
            {!locked && (
              <Button type="submit" loading={restore.isPending}>
                Start restore
              </Button>
            )}
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
