import type { Mount } from '@common/api/index.js';
import { Alert, Anchor, Button, Group, Paper, Stack, Text } from '@mantine/core';
import { IconAlertCircle, IconFolderSearch, IconInfoCircle } from '@tabler/icons-react';
import { Link, useNavigate } from 'react-router-dom';
import { errorMessage } from '../../api/api-error.js';
import { useBrowseM365BackupMutation } from '../../api/m365.queries.js';
import { useStartMountMutation } from '../../api/mounts.queries.js';
import { useTaskQuery } from '../../api/tasks.queries.js';
import { useSession } from '../../auth/session-context.js';
import { TaskProgressBar } from '../../components/task-progress-bar.js';
import { TaskHeader } from '../../components/tasks/task-header.js';
import { formatDateTime } from '../../utils/format.js';
import { isM365Mount } from '../../utils/mount-format.js';

/**
 * What the mount is doing, under its header: the MOUNT task's progress while it mounts, the
 * reason when it failed, and a way to open the backup again once it closed.
 */
export function MountStatus({ mount }: { mount: Mount }) {
  if (mount.state === 'MOUNTING') return mount.taskId === null ? null : <MountingProgress taskId={mount.taskId} m365={isM365Mount(mount)} />;
  if (mount.state === 'FAILED') {
    return (
      <Alert color="red" icon={<IconAlertCircle />} title="The backup could not be opened" role="alert" data-testid="mount-error">
        <Stack gap={6}>
          <Text size="sm" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
            {mount.error ?? 'No reason was given; see the task log.'}
          </Text>
          {mount.taskId !== null && (
            <Anchor component={Link} to={`/tasks/${mount.taskId}`} size="sm">
              {`See task ${mount.taskId} and its log`}
            </Anchor>
          )}
        </Stack>
      </Alert>
    );
  }
  if (mount.state === 'CLOSING' || mount.state === 'CLOSED') {
    return (
      <Alert color="gray" icon={<IconInfoCircle />} title={mount.state === 'CLOSING' ? 'Closing' : 'Closed'} role="status" data-testid="mount-closed">
        <Group justify="space-between" gap="sm">
          <Text size="sm">
            {mount.state === 'CLOSING'
              ? 'The node is unmounting this backup.'
              : `This mount was closed ${formatDateTime(mount.closedAt, 'earlier')}. The backup is unchanged; open it again to go on.`}
          </Text>
          {mount.state === 'CLOSED' && mount.kind === 'browse' && (mount.backupId !== null || mount.m365BackupId !== null) && (
            <BrowseAgainButton backup={mount.backupId !== null ? { kind: 'vm', id: mount.backupId } : { kind: 'm365', id: mount.m365BackupId ?? 0 }} />
          )}
        </Group>
      </Alert>
    );
  }
  return null;
}

function MountingProgress({ taskId, m365 }: { taskId: number; m365: boolean }) {
  const task = useTaskQuery(taskId);
  return (
    <Paper withBorder radius="md" p="md" data-testid="mount-progress">
      <Stack gap="xs">
        <Text size="sm" fw={500}>
          {m365
            ? "Opening the backup: reading its drives' file lists from the destination, to browse them read-only."
            : 'Opening the backup: serving its disks from the destination, finding and mounting their filesystems read-only.'}
        </Text>
        {task.data !== undefined && (
          <>
            <TaskHeader task={task.data} />
            <TaskProgressBar progress={task.data.progress} state={task.data.state} size="lg" label="Mount progress" />
          </>
        )}
        {task.isError && (
          <Text size="sm" c="red">
            {errorMessage(task.error)}
          </Text>
        )}
      </Stack>
    </Paper>
  );
}

/** Opens the same backup again: a VM's through POST /api/mounts, a Microsoft 365 one through its browse. */
function BrowseAgainButton({ backup }: { backup: { kind: 'vm' | 'm365'; id: number } }) {
  const { canChange } = useSession();
  const navigate = useNavigate();
  const startVm = useStartMountMutation();
  const startM365 = useBrowseM365BackupMutation();
  const start = backup.kind === 'vm' ? startVm : startM365;
  if (!canChange) return null;
  return (
    <Stack gap={4} align="flex-end">
      <Button
        size="xs"
        variant="default"
        leftSection={<IconFolderSearch size={14} aria-hidden />}
        loading={start.isPending}
        onClick={() => start.mutate(backup.id, { onSuccess: (mount) => void navigate(`/mounts/${mount.id}`) })}
      >
        Browse again
      </Button>
      {start.isError && (
        <Text size="xs" c="red" role="alert">
          {errorMessage(start.error)}
        </Text>
      )}
    </Stack>
  );
}
