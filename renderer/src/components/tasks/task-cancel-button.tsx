import { isFinalState, type Task } from '@common/api/index.js';
import { Button, Stack, Text } from '@mantine/core';
import { IconPlayerStop } from '@tabler/icons-react';
import { errorMessage } from '../../api/api-error.js';
import { useCancelTaskMutation } from '../../api/tasks.queries.js';
import { useSession } from '../../auth/session-context.js';

/**
 * "Cancel" asks the task to stop cleanly; once asked while it still runs, the button becomes
 * "Force cancel", which stops it at once. Hidden for viewers and for tasks that ended.
 */
export function TaskCancelButton({ task }: { task: Task }) {
  const { canChange } = useSession();
  const cancel = useCancelTaskMutation();
  if (!canChange || isFinalState(task.state)) return null;

  const force = task.state === 'RUNNING' && task.cancelRequested;
  return (
    <Stack gap={4} align="flex-end">
      <Button
        color="red"
        variant={force ? 'filled' : 'light'}
        leftSection={<IconPlayerStop size={16} aria-hidden />}
        loading={cancel.isPending}
        onClick={() => cancel.mutate({ id: task.id, force })}
        title={force ? 'Stop the task now, without waiting for it to clean up' : 'Ask the task to stop cleanly'}
      >
        {force ? 'Force cancel' : 'Cancel'}
      </Button>
      {cancel.isError && (
        <Text size="sm" c="red" role="alert" maw={360} ta="right">
          {errorMessage(cancel.error)}
        </Text>
      )}
      {force && !cancel.isPending && (
        <Text size="xs" c="dimmed">
          Stopping… the task is cleaning up.
        </Text>
      )}
    </Stack>
  );
}
