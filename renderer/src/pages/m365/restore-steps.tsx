import type { TaskDetails } from '@common/api/index.js';
import { Alert, Button, Group, Radio, Stack, Text, TextInput } from '@mantine/core';
import { IconInfoCircle } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { TaskFollow } from '../../components/tasks/task-follow.js';
import type { RestoreConflict, RestoreFolderMode } from './m365-restore.js';

/**
 * The steps every Microsoft 365 restore dialog shares (files of a drive; mail, events and
 * contacts): the folder to restore into, what to do with an item already there, and the
 * task followed to its summary. Each dialog brings its own words.
 */

export interface ConflictOption {
  value: RestoreConflict;
  label: string;
  description: string;
}

/** "Into a new folder (named …)" or "back to the original places", with the name's field. */
export function RestoreFolderChoice(props: {
  label: string;
  newLabel: string;
  newDescription: string;
  originalLabel: string;
  originalDescription: string;
  nameLabel: string;
  mode: RestoreFolderMode;
  onMode: (mode: RestoreFolderMode) => void;
  name: string;
  onName: (name: string) => void;
  /** The name used when the field is left empty. */
  example: string;
  error: string | undefined;
}) {
  return (
    <>
      <Radio.Group label={props.label} value={props.mode} onChange={(value) => props.onMode(value === 'original' ? 'original' : 'new')}>
        <Stack gap="xs" mt="xs">
          <Radio value="new" label={props.newLabel} description={props.newDescription} />
          <Radio value="original" label={props.originalLabel} description={props.originalDescription} />
        </Stack>
      </Radio.Group>
      {props.mode === 'new' && (
        <TextInput
          label={props.nameLabel}
          description={`Leave empty for “${props.example}” (the time the restore starts, UTC)`}
          placeholder={props.example}
          value={props.name}
          onChange={(event) => props.onName(event.currentTarget.value)}
          error={props.error}
          autoComplete="off"
          spellCheck={false}
        />
      )}
      {props.mode === 'original' && props.error !== undefined && (
        <Text size="sm" c="red" role="alert">
          {props.error}
        </Text>
      )}
    </>
  );
}

/** The conflicts step: the choice, a warning for "replace", what will happen in one sentence, and Start. */
export function RestoreConflictStep(props: {
  label: string;
  options: readonly ConflictOption[];
  conflict: RestoreConflict;
  onConflict: (value: RestoreConflict) => void;
  replaceWarning: string;
  error: string | undefined;
  recap: ReactNode;
  /** An error of the request not shown on a field. */
  formError: unknown;
  pending: boolean;
  onBack: () => void;
  onSubmit: () => void;
}) {
  return (
    <form
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        props.onSubmit();
      }}
    >
      <Stack mt="md">
        <Radio.Group
          label={props.label}
          value={props.conflict}
          onChange={(value) => props.onConflict(props.options.find((option) => option.value === value)?.value ?? props.conflict)}
          error={props.error}
        >
          <Stack gap="xs" mt="xs">
            {props.options.map((option) => (
              <Radio key={option.value} value={option.value} label={option.label} description={option.description} />
            ))}
          </Stack>
        </Radio.Group>
        {props.conflict === 'replace' && (
          <Alert color="yellow" variant="light" icon={<IconInfoCircle />}>
            {props.replaceWarning}
          </Alert>
        )}
        <Recap>{props.recap}</Recap>
        <FormError error={props.formError} />
        <DialogActions justify="space-between">
          <Button variant="default" onClick={props.onBack} disabled={props.pending}>
            Back
          </Button>
          <Button type="submit" loading={props.pending}>
            Start restore
          </Button>
        </DialogActions>
      </Stack>
    </form>
  );
}

/** The restore task followed live (rate, ETA) up to its summary. */
export function RestoreProgressStep({ taskId, summary, onClose }: { taskId: number; summary: (task: TaskDetails) => ReactNode; onClose: () => void }) {
  return (
    <Stack mt="md">
      <TaskFollow taskId={taskId} label="Restore" errorTitle="The restore failed" renderResult={summary} logHeight={140} />
      <DialogActions>
        <Button variant="default" onClick={onClose}>
          Close
        </Button>
      </DialogActions>
    </Stack>
  );
}

export function Recap({ children }: { children: ReactNode }) {
  return (
    <Group gap="xs" wrap="nowrap" align="flex-start">
      <IconInfoCircle size={16} aria-hidden style={{ flexShrink: 0, marginTop: 2 }} />
      <Text size="sm" data-testid="m365-restore-recap">
        {children}
      </Text>
    </Group>
  );
}
