import type { Destination } from '@common/api/index.js';
import { Button, Checkbox, Group, Modal, NumberInput, Stack, Text } from '@mantine/core';
import { useMemo, useState, type FormEvent } from 'react';
import { useBackupsQuery } from '../../api/backups.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { PathText } from '../../components/path-text.js';
import { TaskFollow } from '../../components/tasks/task-follow.js';
import { CheckResultView, GcResultView, ReimportResultView, VerifyResultView } from './task-results.js';
import { useDestinationTask, type DestinationTask } from './use-destination-task.js';

interface DialogProps {
  destination: Destination;
  onClose: () => void;
}

/** Close, and the start button until a task runs; "Run again" once it ended. */
function Footer({ task, startLabel, onClose, disabled = false }: { task: DestinationTask; startLabel: string; onClose: () => void; disabled?: boolean }) {
  return (
    <DialogActions>
      <Button variant="default" onClick={onClose}>
        Close
      </Button>
      {task.ended && (
        <Button variant="light" onClick={task.reset}>
          Run again
        </Button>
      )}
      {task.taskId === null && (
        <Button type="submit" loading={task.starting} disabled={disabled}>
          {startLabel}
        </Button>
      )}
    </DialogActions>
  );
}

const asInteger = (value: string | number): number | null => {
  const number = typeof value === 'number' ? value : Number.parseInt(value, 10);
  return Number.isInteger(number) ? number : null;
};

export function VerifyDialog({ destination, onClose }: DialogProps) {
  const task = useDestinationTask(destination);
  const backups = useBackupsQuery({ destination: String(destination.id) });
  const catalog = useMemo(() => new Map((backups.data ?? []).map((backup) => [backup.repoBackupId, backup])), [backups.data]);
  const [partial, setPartial] = useState(false);
  const [part, setPart] = useState<string | number>(1);
  const [of, setOf] = useState<string | number>(7);
  const [subsetLabel, setSubsetLabel] = useState<string | undefined>(undefined);

  const partNumber = asInteger(part);
  const ofNumber = asInteger(of);
  const ofError = partial && (ofNumber === null || ofNumber < 1 || ofNumber > 1000) ? 'Between 1 and 1000' : null;
  const partError =
    partial && ofError === null && (partNumber === null || partNumber < 1 || partNumber > (ofNumber ?? 1)) ? `Between 1 and ${ofNumber}` : null;
  const locked = task.taskId !== null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (partError !== null || ofError !== null) return;
    const subset = partial && partNumber !== null && ofNumber !== null ? { part: partNumber - 1, of: ofNumber } : undefined;
    setSubsetLabel(subset === undefined ? undefined : `part ${partNumber} of ${ofNumber}`);
    task.start({ action: 'verify', body: subset === undefined ? {} : { subset } });
  };

  return (
    <Modal opened onClose={onClose} title={`Verify ${destination.name}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">
            Reads back every chunk the backups on this destination reference, decrypts, decompresses and re-hashes it, and names any
            damaged chunk together with every backup that needs it. Backups keep running meanwhile.
          </Text>
          <Checkbox
            label="Check only part of the chunks"
            description="Large destinations: run part 1, 2, … N on successive runs; every chunk is checked once per N runs."
            checked={partial}
            disabled={locked}
            onChange={(event) => setPartial(event.currentTarget.checked)}
          />
          {partial && (
            <Group align="flex-start" grow maw={360}>
              <NumberInput label="Check part" min={1} allowDecimal={false} allowNegative={false} value={part} onChange={setPart} error={partError} disabled={locked} />
              <NumberInput label="of" min={1} max={1000} allowDecimal={false} allowNegative={false} value={of} onChange={setOf} error={ofError} disabled={locked} />
            </Group>
          )}
          <FormError error={task.error} />
          {task.taskId !== null && (
            <TaskFollow
              taskId={task.taskId}
              label="Verify"
              errorTitle="The verify failed"
              renderResult={(done) => <VerifyResultView result={done.result} catalog={catalog} subset={subsetLabel} />}
            />
          )}
          <Footer task={task} startLabel="Verify" onClose={onClose} />
        </Stack>
      </form>
    </Modal>
  );
}

export function GcDialog({ destination, onClose }: DialogProps) {
  const task = useDestinationTask(destination);
  const [grace, setGrace] = useState<string | number>(0);
  const graceNumber = typeof grace === 'number' ? grace : Number.parseFloat(grace);
  const graceError = !Number.isFinite(graceNumber) || graceNumber < 0 || graceNumber > 24 * 365 ? 'Between 0 and 8760 hours' : null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (graceError !== null) return;
    task.start({ action: 'gc', body: { graceHours: graceNumber } });
  };

  return (
    <Modal opened onClose={onClose} title={`Collect garbage on ${destination.name}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">
            Finds the chunks no backup references any more (after a prune, or left by an interrupted backup) and deletes them to free space.
            Backups are never touched.
          </Text>
          <NumberInput
            label="Grace period (hours)"
            description="Optional. Garbage collection runs alone on the destination and already keeps what a backup that may still run could need; unreferenced chunks younger than this stay in any case."
            min={0}
            max={24 * 365}
            allowNegative={false}
            value={grace}
            onChange={setGrace}
            error={graceError}
            disabled={task.taskId !== null}
            maw={360}
          />
          <FormError error={task.error} />
          {task.taskId !== null && (
            <TaskFollow
              taskId={task.taskId}
              label="Garbage collection"
              errorTitle="Garbage collection failed"
              renderResult={(done) => <GcResultView result={done.result} />}
            />
          )}
          <Footer task={task} startLabel="Collect garbage" onClose={onClose} />
        </Stack>
      </form>
    </Modal>
  );
}

export function ReimportDialog({ destination, onClose }: DialogProps) {
  const task = useDestinationTask(destination);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    task.start({ action: 'import', body: {} });
  };
  return (
    <Modal opened onClose={onClose} title={`Re-import backups from ${destination.name}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">
            Reads every backup manifest on the destination and lists in the catalog the backups it does not know yet: after the catalog was
            lost, or when a destination with backups was added to this server. Nothing on the destination changes.
          </Text>
          <FormError error={task.error} />
          {task.taskId !== null && (
            <TaskFollow
              taskId={task.taskId}
              label="Re-import"
              errorTitle="The re-import failed"
              renderResult={(done) => <ReimportResultView result={done.result} />}
            />
          )}
          <Footer task={task} startLabel="Re-import" onClose={onClose} />
        </Stack>
      </form>
    </Modal>
  );
}

/** Refresh starts at once (nothing to choose); the dialog only follows it. */
export function RefreshDialog({ destination, taskId, onClose }: DialogProps & { taskId: number }) {
  return (
    <Modal opened onClose={onClose} title={`Refresh ${destination.name}`} size="lg">
      <Stack>
        <Text size="sm">
          The node checks that <PathText path={destination.path} /> is still there and writable, and reads the repository&apos;s numbers and free space.
        </Text>
        <TaskFollow
          taskId={taskId}
          label="Refresh"
          errorTitle="The destination check failed"
          renderResult={(done) => <CheckResultView result={done.result} />}
        />
        <DialogActions>
          <Button variant="default" onClick={onClose}>
            Close
          </Button>
        </DialogActions>
      </Stack>
    </Modal>
  );
}
