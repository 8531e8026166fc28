import { isFinalState, type TaskDetails } from '@common/api/index.js';
import { Alert, Skeleton, Stack, Text } from '@mantine/core';
import { IconAlertCircle, IconCircleCheck, IconInfoCircle } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { errorMessage } from '../../api/api-error.js';
import { useTaskQueries } from '../../api/tasks.queries.js';
import { TaskProgressBar } from '../task-progress-bar.js';
import { TaskCancelButton } from './task-cancel-button.js';
import { TaskHeader } from './task-header.js';
import { TaskLog } from './task-log.js';
import { TaskOutcome } from './task-outcome.js';

export interface WorkflowStep {
  taskId: number;
  /** Names the step, its bar and its log: "Restore" → "Restore progress", "Restore log". */
  label: string;
  /** Show the step's log live (default); a short preparatory step may go without. */
  log?: boolean;
}

export type WorkflowOutcome = { kind: 'running' } | { kind: 'succeeded' } | { kind: 'failed'; step: number; cancelled: boolean };

const succeeded = (task: TaskDetails): boolean => task.state === 'FINISHED' || task.state === 'FINISHED_WITH_WARNINGS';

/** A workflow ends at its first failed or cancelled step (the later ones never run), or when every step succeeded. */
export function workflowOutcome(tasks: ReadonlyArray<TaskDetails | undefined>): WorkflowOutcome {
  const failed = tasks.findIndex((task) => task !== undefined && (task.state === 'FAILED' || task.state === 'CANCELLED'));
  if (failed !== -1) return { kind: 'failed', step: failed, cancelled: tasks[failed]?.state === 'CANCELLED' };
  if (tasks.length > 0 && tasks.every((task) => task !== undefined && succeeded(task))) return { kind: 'succeeded' };
  return { kind: 'running' };
}

interface WorkflowFollowProps {
  steps: readonly WorkflowStep[];
  /** What success means, from the finished tasks (in step order), e.g. "VM web-restored is defined". */
  renderSuccess: (tasks: readonly TaskDetails[]) => ReactNode;
  successTitle: string;
  /** e.g. "The restore failed"; the failed step's own error follows. */
  failureTitle: string;
  logHeight?: number;
}

/**
 * The steps of one workflow (EXPORT → STORE, RESTORE → IMPORT) followed live, one after the
 * other: each with its state, bar, warnings and log, then one outcome for the whole, in green
 * or in red with the failing step's reason.
 */
export function WorkflowFollow({ steps, renderSuccess, successTitle, failureTitle, logHeight = 160 }: WorkflowFollowProps) {
  const queries = useTaskQueries(steps.map((step) => step.taskId));
  const tasks = queries.map((query) => query.data);
  const outcome = workflowOutcome(tasks);
  // The step that runs (or waits) now is the one a cancel is for; a cancelled step ends the rest.
  const active = tasks.findIndex((task) => task === undefined || !isFinalState(task.state));

  return (
    <Stack gap="md" data-testid="workflow-follow" data-outcome={outcome.kind}>
      {steps.map((step, index) => {
        const query = queries[index];
        const task = query?.data;
        if (task === undefined) {
          if (query?.isError === true) {
            return (
              <Alert key={step.taskId} color="red" icon={<IconAlertCircle />} title={`Could not follow task ${step.taskId}`}>
                {errorMessage(query.error)}
              </Alert>
            );
          }
          return <Skeleton key={step.taskId} h={64} radius="md" aria-label={`Loading task ${step.taskId}`} />;
        }
        const showLog = step.log !== false;
        return (
          <Stack key={step.taskId} gap="xs" data-testid={`workflow-step-${index + 1}`} data-state={task.state} role="group" aria-label={step.label}>
            <TaskHeader
              task={task}
              title={
                <Text fw={600} size="sm">
                  {`${index + 1}. ${step.label}`}
                </Text>
              }
              action={index === active && <TaskCancelButton task={task} />}
            />
            <TaskProgressBar progress={task.progress} state={task.state} size={showLog ? 'lg' : 'sm'} label={`${step.label} progress`} />
            {/* The reason of a failure is told once, below, for the whole workflow. */}
            <TaskOutcome task={{ ...task, error: null }} />
            {showLog && <TaskLog log={task.log} label={`${step.label} log`} height={logHeight} final={isFinalState(task.state)} />}
          </Stack>
        );
      })}
      <WorkflowOutcomeView
        outcome={outcome}
        steps={steps}
        tasks={tasks}
        renderSuccess={renderSuccess}
        successTitle={successTitle}
        failureTitle={failureTitle}
      />
    </Stack>
  );
}

function WorkflowOutcomeView({
  outcome,
  steps,
  tasks,
  renderSuccess,
  successTitle,
  failureTitle,
}: {
  outcome: WorkflowOutcome;
  steps: readonly WorkflowStep[];
  tasks: ReadonlyArray<TaskDetails | undefined>;
  renderSuccess: WorkflowFollowProps['renderSuccess'];
  successTitle: string;
  failureTitle: string;
}) {
  if (outcome.kind === 'running') {
    return (
      <Text size="xs" c="dimmed">
        You may close this dialog; the tasks go on, and their pages show how they end.
      </Text>
    );
  }
  if (outcome.kind === 'succeeded') {
    return (
      <Alert color="green" icon={<IconCircleCheck />} title={successTitle} role="status" data-testid="workflow-success">
        {renderSuccess(tasks as TaskDetails[])}
      </Alert>
    );
  }
  const task = tasks[outcome.step];
  const label = steps[outcome.step]?.label ?? 'A step';
  const reason = task?.error ?? null;
  if (outcome.cancelled) {
    return (
      <Alert color="gray" icon={<IconInfoCircle />} title="Cancelled" role="status" data-testid="workflow-cancelled">
        {`${label} was cancelled${reason === null || reason === '' ? '.' : `: ${reason}`}`}
      </Alert>
    );
  }
  return (
    <Alert color="red" icon={<IconAlertCircle />} title={failureTitle} role="alert" data-testid="workflow-error">
      <Text size="sm" c="red" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
        {`${label} failed: ${reason === null || reason === '' ? 'no reason was given; see its log.' : reason}`}
      </Text>
    </Alert>
  );
}
