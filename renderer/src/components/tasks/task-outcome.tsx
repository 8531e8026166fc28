import type { Task } from '@common/api/index.js';
import { Alert, List, Stack } from '@mantine/core';
import { IconAlertCircle, IconAlertTriangle } from '@tabler/icons-react';

/** Why a task failed and what it warned about: right under its progress, where people look. */
export function TaskOutcome({ task, errorTitle }: { task: Task; errorTitle?: string }) {
  const showError = task.error !== null && task.error !== '';
  if (!showError && task.warnings.length === 0) return null;
  return (
    <Stack gap="sm">
      {showError && (
        <Alert
          // A cancel is someone's decision, not a fault; red is for failures.
          color={task.state === 'CANCELLED' ? 'gray' : 'red'}
          icon={<IconAlertCircle />}
          title={errorTitle ?? (task.state === 'CANCELLED' ? 'Cancelled' : 'Failed')}
          role="alert"
          data-testid="task-error"
        >
          <span style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>{task.error}</span>
        </Alert>
      )}
      {task.warnings.length > 0 && (
        <Alert color="yellow" icon={<IconAlertTriangle />} title={task.warnings.length === 1 ? 'Warning' : `${task.warnings.length} warnings`}>
          <List size="sm" spacing={4}>
            {task.warnings.map((warning, index) => (
              <List.Item key={index}>{warning}</List.Item>
            ))}
          </List>
        </Alert>
      )}
    </Stack>
  );
}
