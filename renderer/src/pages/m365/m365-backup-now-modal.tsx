import { M365BackupResultSchema } from '@common/m365-tasks.js';
import type { Destination, TaskDetails } from '@common/api/index.js';
import { Alert, Anchor, Button, Checkbox, Modal, Select, Stack, Text } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { IconDatabaseOff } from '@tabler/icons-react';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { fieldErrorMessage, isApiError } from '../../api/api-error.js';
import { useDestinationsQuery } from '../../api/destinations.queries.js';
import { refreshM365, useM365BackupPageQuery, useRunM365BackupMutation } from '../../api/m365.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { TaskFollow } from '../../components/tasks/task-follow.js';
import { useFollowedTask } from '../../hooks/use-followed-task.js';
import { DESTINATION_STATUS_LABELS } from '../../utils/destination-format.js';
import { formatBytes } from '../../utils/format.js';

/** Who or what is backed up: a user's OneDrive or a site's libraries. */
export interface M365BackupSubject {
  kind: 'user' | 'site';
  /** The catalog id (m365_users.id or m365_sites.id). */
  id: number;
  /** A UPN or a site's name, as the dialog names it. */
  name: string;
  /** The tenant (name or id), so the server never has to guess. */
  tenant: string;
}

/** The subject as the API's filters and requests name it: by catalog id, within its tenant. */
export function subjectRef(subject: Pick<M365BackupSubject, 'kind' | 'id' | 'tenant'>): { tenant: string; user: string } | { tenant: string; site: string } {
  return subject.kind === 'user' ? { tenant: subject.tenant, user: String(subject.id) } : { tenant: subject.tenant, site: String(subject.id) };
}

/** Any destination that answers can take it (the backup runs on the destination's node); one in error is shown, not choosable. */
function destinationOptions(destinations: readonly Destination[]) {
  return destinations.map((destination) => {
    const broken = destination.status === 'error';
    return {
      value: String(destination.id),
      label: broken ? `${destination.name} (${DESTINATION_STATUS_LABELS.error.toLowerCase()})` : `${destination.name}${destination.encrypted ? ' · encrypted' : ''} · on ${destination.node}`,
      disabled: broken,
    };
  });
}

/** What the backup did, drive by drive. */
export function M365BackupSummary({ task }: { task: TaskDetails }) {
  const result = M365BackupResultSchema.safeParse(task.result);
  if (!result.success) return null;
  const { points } = result.data;
  if (points.length === 0) return <Text size="sm">No drive was backed up; the warnings say why.</Text>;
  return (
    <Stack gap={2} data-testid="m365-backup-result">
      {points.map((point) => (
        <Text size="sm" key={point.pointId}>
          {`${point.part}: ${point.kind === 'full' ? 'full' : 'incremental'}, ${point.files} ${point.files === 1 ? 'file' : 'files'} in ${point.folders} ${point.folders === 1 ? 'folder' : 'folders'} (${formatBytes(point.bytes)}); ${point.added} added, ${point.changed} changed, ${point.removed} removed; ${formatBytes(point.downloadedBytes)} downloaded, ${formatBytes(point.storedBytes)} stored.`}
        </Text>
      ))}
    </Stack>
  );
}

/**
 * "Back up now" for one user's OneDrive or one site's libraries: choose a destination (the one
 * the last backup went to, so this one reads only what changed), start, then follow the
 * M365_BACKUP task in the dialog, with a link to its page.
 */
export function M365BackupNowModal({ subject, onClose }: { subject: M365BackupSubject; onClose: () => void }) {
  const queryClient = useQueryClient();
  const destinations = useDestinationsQuery();
  const last = useM365BackupPageQuery(subjectRef(subject), undefined, 1);
  const run = useRunM365BackupMutation();
  const [destination, setDestination] = useState<string | null>(null);
  const [destinationError, setDestinationError] = useState<string | null>(null);
  const [full, setFull] = useState(false);
  const [taskId, setTaskId] = useState<number | null>(null);
  // The inventory's "Last backup" and the backups list change when it ends.
  const { follow } = useFollowedTask(() => refreshM365(queryClient));

  const choosable = useMemo(() => (destinations.data ?? []).filter((candidate) => candidate.status !== 'error'), [destinations.data]);
  const lastUsed = last.data?.backups[0]?.destinationId;
  const suggestion = choosable.some((candidate) => candidate.id === lastUsed) ? String(lastUsed) : choosable.length === 1 ? String(choosable[0]?.id) : null;
  useEffect(() => {
    if (suggestion !== null && destination === null) setDestination(suggestion);
    // Only when a suggestion appears: it must not fight the user's own choice.
  }, [suggestion]);

  const noDestinations = destinations.isSuccess && destinations.data.length === 0;
  const refused = isApiError(run.error) && run.error.field === 'destination' ? fieldErrorMessage(run.error, 'destination') : null;
  const started = taskId !== null;
  const what = subject.kind === 'user' ? `the OneDrive of ${subject.name}` : `the document libraries of site ${subject.name}`;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (destination === null) {
      setDestinationError('Choose where to store the backup');
      return;
    }
    run.mutate(
      { ...subjectRef(subject), destination, full },
      {
        onSuccess: ({ taskId: id }) => {
          setTaskId(id);
          follow(id);
        },
      },
    );
  };

  return (
    <Modal opened onClose={onClose} title={`Back up ${subject.name}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Text size="sm" c="dimmed">{`Copies ${what} to a destination: every file and folder, with its versions kept by the destination's retention.`}</Text>
          {noDestinations ? (
            <Alert color="yellow" icon={<IconDatabaseOff />} title="No destination yet">
              Backups are stored in a destination. <Anchor component={Link} to="/destinations">Add a destination</Anchor> first.
            </Alert>
          ) : (
            <>
              <Select
                label="Destination"
                description={lastUsed !== undefined && destination === String(lastUsed) ? 'Where the last backup went: this one reads only what changed since.' : 'Where the backup is stored; its node reads Microsoft 365'}
                placeholder={destinations.isPending ? 'Loading destinations…' : 'Choose a destination'}
                data={destinationOptions(destinations.data ?? [])}
                value={destination}
                onChange={(value) => {
                  setDestination(value);
                  setDestinationError(null);
                  run.reset();
                }}
                error={destinationError ?? refused}
                allowDeselect={false}
                disabled={started}
                data-autofocus
              />
              <Checkbox
                label="Full backup"
                description="List every file again instead of asking Microsoft 365 what changed; files already stored are not uploaded again. The first backup is always full."
                checked={full}
                disabled={started}
                onChange={(event) => setFull(event.currentTarget.checked)}
              />
            </>
          )}
          <FormError error={refused === null ? run.error : null} />
          {taskId !== null && (
            <TaskFollow taskId={taskId} label="Backup" errorTitle="The backup failed" renderResult={(task) => <M365BackupSummary task={task} />} logHeight={140} />
          )}
          <DialogActions>
            <Button variant="default" onClick={onClose}>
              Close
            </Button>
            {!started && (
              <Button type="submit" loading={run.isPending} disabled={noDestinations}>
                Start backup
              </Button>
            )}
          </DialogActions>
        </Stack>
      </form>
    </Modal>
  );
}
