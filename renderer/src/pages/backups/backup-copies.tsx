import type { Backup, BackupCopy, Destination } from '@common/api/index.js';
import { Alert, Badge, Button, Group, Modal, Select, Stack, Text, Tooltip } from '@mantine/core';
import { IconCopy } from '@tabler/icons-react';
import { useState, type FormEvent } from 'react';
import { errorMessage, isApiError } from '../../api/api-error.js';
import { useCopyBackupMutation } from '../../api/backups.queries.js';
import { useDestinationsQuery } from '../../api/destinations.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { TaskFollow } from '../../components/tasks/task-follow.js';
import { formatBytes } from '../../utils/format.js';
import { backupLabel } from './backup-label.js';

const COPY_LOOK: Record<BackupCopy['state'], { label: string; color: string }> = {
  copying: { label: 'copying', color: 'blue' },
  ok: { label: 'copy', color: 'teal' },
  failed: { label: 'copy failed', color: 'red' },
};

/** What one copy is, in words: where, its state, its size and when. */
export function copySummary(copy: BackupCopy): string {
  const when = new Date(copy.finishedAt ?? copy.createdAt).toLocaleString();
  if (copy.state === 'copying') return `Being copied to ${copy.destination} since ${new Date(copy.createdAt).toLocaleString()}`;
  if (copy.state === 'failed') return `The copy to ${copy.destination} failed ${when}: ${copy.error ?? 'see its task'}`;
  return `Complete copy on ${copy.destination}${copy.storedBytes === null ? '' : `, ${formatBytes(copy.storedBytes)} written there`}, ${when}`;
}

/** A backup's copies on other destinations: one badge each (destination and state), the rest in its tooltip. */
export function BackupCopiesCell({ backup }: { backup: Backup }) {
  const copies = backup.copies ?? [];
  if (copies.length === 0) {
    return (
      <Text size="sm" c="dimmed" aria-label="No copies">
        —
      </Text>
    );
  }
  return (
    <Group gap={4} wrap="nowrap" data-testid="backup-copies">
      {copies.map((copy) => {
        const look = COPY_LOOK[copy.state];
        return (
          <Tooltip key={copy.id} label={copySummary(copy)} multiline maw={320}>
            <Badge component="span" size="sm" variant="light" color={look.color} data-copy-state={copy.state} aria-label={copySummary(copy)} style={{ textTransform: 'none', flexShrink: 0, maxWidth: 'none' }}>
              {`${copy.destination} · ${look.label}`}
            </Badge>
          </Tooltip>
        );
      })}
    </Group>
  );
}

/** The destinations a backup may be copied to: not its own, not one with a complete copy or a copy going on. */
export function copyTargets(backup: Backup, destinations: readonly Destination[]): { value: string; label: string; disabled?: boolean }[] {
  const busy = new Map((backup.copies ?? []).filter((c) => c.state !== 'failed').map((c) => [c.destinationId, c.state]));
  return destinations
    .filter((d) => d.id !== backup.destinationId)
    .map((d) => {
      const state = busy.get(d.id);
      const why = state === 'ok' ? ' (holds a copy)' : state === 'copying' ? ' (being copied)' : '';
      return { value: String(d.id), label: `${d.name}${why}`, ...(why ? { disabled: true } : {}) };
    });
}

/** "Copy to…": choose the destination, start the COPY task and follow it here. */
export function CopyBackupModal({ backup, onClose }: { backup: Backup; onClose: () => void }) {
  const destinations = useDestinationsQuery();
  const copy = useCopyBackupMutation();
  const [to, setTo] = useState<string | null>(null);
  const [pickError, setPickError] = useState<string | null>(null);
  const [taskId, setTaskId] = useState<number | null>(null);
  const options = copyTargets(backup, destinations.data ?? []);
  const refusedTo = isApiError(copy.error) && copy.error.field === 'to' ? copy.error.message : null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (to === null) {
      setPickError('Choose the destination to copy to');
      return;
    }
    copy.mutate({ id: backup.id, to }, { onSuccess: (task) => setTaskId(task.id) });
  };

  return (
    <Modal opened onClose={onClose} title={`Copy ${backupLabel(backup)}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm">
            {`A copy on a second destination (an S3 bucket off site, or another disk of node ${destinations.data?.find((d) => d.id === backup.destinationId)?.node ?? 'of this backup'}) survives the loss of ${backup.destination}. Only the chunks the other destination lacks are sent; restore can read either.`}
          </Text>
          {destinations.isSuccess && options.length === 0 ? (
            <Alert color="yellow" title="No other destination">
              Add a second destination first (Destinations → Add destination).
            </Alert>
          ) : (
            <Select
              label="Copy to"
              placeholder="Choose a destination"
              data={options}
              value={to}
              onChange={(value) => {
                setTo(value);
                setPickError(null);
              }}
              error={pickError ?? refusedTo}
              disabled={taskId !== null}
              allowDeselect={false}
              data-testid="copy-destination"
            />
          )}
          {copy.isError && refusedTo === null && (
            <Alert color="red" title="The copy could not start">
              {errorMessage(copy.error)}
            </Alert>
          )}
          {taskId !== null && <TaskFollow taskId={taskId} label="Copy" errorTitle="The copy failed" logHeight={120} />}
          <DialogActions>
            <Button variant="default" onClick={onClose}>
              {taskId === null ? 'Cancel' : 'Close'}
            </Button>
            {taskId === null && (
              <Button type="submit" leftSection={<IconCopy size={14} aria-hidden />} loading={copy.isPending} disabled={options.length === 0}>
                Copy
              </Button>
            )}
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
