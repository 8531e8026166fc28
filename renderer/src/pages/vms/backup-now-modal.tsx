import type { Destination, TaskDetails, Vm } from '@common/api/index.js';
import { StoreResultSchema } from '@common/kvm-tasks.js';
import { Alert, Anchor, Button, Checkbox, Modal, Select, Stack, Text } from '@mantine/core';
import { IconDatabaseOff, IconInfoCircle } from '@tabler/icons-react';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { isApiError } from '../../api/api-error.js';
import { Link } from 'react-router-dom';
import { useBackupsQuery, useRunBackupMutation, type StartedWorkflow } from '../../api/backups.queries.js';
import { useDestinationsQuery } from '../../api/destinations.queries.js';
import { useHypervisorsQuery } from '../../api/hypervisors.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { WorkflowFollow, type WorkflowStep } from '../../components/tasks/workflow-follow.js';
import { formatBytes } from '../../utils/format.js';
import { DESTINATION_STATUS_LABELS } from '../../utils/destination-format.js';

/**
 * A VM is read by the node on its host, which writes the backup itself: only destinations on
 * that node can take it. Others, and destinations in error, are shown but not choosable.
 */
function destinationOptions(destinations: readonly Destination[], nodeId: number | null) {
  return destinations.map((destination) => {
    const elsewhere = nodeId !== null && destination.nodeId !== nodeId;
    const reason = elsewhere ? `on node ${destination.node}` : destination.status === 'error' ? DESTINATION_STATUS_LABELS.error.toLowerCase() : null;
    return {
      value: String(destination.id),
      label: reason === null ? `${destination.name}${destination.encrypted ? ' · encrypted' : ''}` : `${destination.name} (${reason})`,
      disabled: reason !== null,
    };
  });
}

const BACKUP_STEP_LABELS = ['Export', 'Store'];

export function backupSteps(workflow: StartedWorkflow): WorkflowStep[] {
  return workflow.taskIds.map((taskId, index) => ({
    taskId,
    label: BACKUP_STEP_LABELS[index] ?? `Step ${index + 1}`,
    // The export only prepares the point in time; the store is where the data moves and the log matters.
    log: index === workflow.taskIds.length - 1,
  }));
}

function BackupSuccess({ tasks, vm }: { tasks: readonly TaskDetails[]; vm: Vm }) {
  const store = StoreResultSchema.safeParse(tasks.at(-1)?.result);
  if (!store.success) return <Text size="sm">{`The backup of ${vm.name} is stored.`}</Text>;
  const { type, bytesRead, logicalBytes } = store.data;
  return (
    <Text size="sm" data-testid="backup-result">
      {`${type === 'full' ? 'Full' : 'Incremental'} backup of ${vm.name} stored: ${formatBytes(bytesRead)} read for ${formatBytes(logicalBytes)} of disk data.`}
    </Text>
  );
}

/**
 * "Back up now": choose a destination (the one this VM's last backup went to, so an incremental
 * can follow it), start, then follow EXPORT and STORE live in the same dialog.
 */
export function BackupNowModal({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const destinations = useDestinationsQuery();
  const hypervisors = useHypervisorsQuery();
  const backups = useBackupsQuery({ vm: vm.uuid });
  const run = useRunBackupMutation();
  const [destination, setDestination] = useState<string | null>(null);
  const [destinationError, setDestinationError] = useState<string | null>(null);
  const [full, setFull] = useState(false);
  const [workflow, setWorkflow] = useState<StartedWorkflow | null>(null);

  const host = hypervisors.data?.find((hypervisor) => hypervisor.id === vm.hypervisorId);
  const nodeId = host?.nodeId ?? null;
  const options = destinationOptions(destinations.data ?? [], nodeId);
  const choosable = useMemo(
    () => (destinations.data ?? []).filter((candidate) => candidate.status !== 'error' && (nodeId === null || candidate.nodeId === nodeId)),
    [destinations.data, nodeId],
  );
  const lastUsed = useMemo(() => {
    const newest = [...(backups.data ?? [])]
      .filter((backup) => backup.status === 'available')
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
    return newest === undefined ? null : String(newest.destinationId);
  }, [backups.data]);
  const suggestion = choosable.some((candidate) => String(candidate.id) === lastUsed)
    ? lastUsed
    : choosable.length === 1
      ? String(choosable[0]?.id)
      : null;
  useEffect(() => {
    if (suggestion !== null && destination === null) setDestination(suggestion);
    // Only when a suggestion appears: it must not fight the user's own choice.
  }, [suggestion]);

  const excluded = vm.disks.filter((disk) => disk.excluded).map((disk) => disk.target);
  const noDestinations = destinations.isSuccess && destinations.data.length === 0;
  const noneOnHost = !noDestinations && destinations.isSuccess && host !== undefined && choosable.length === 0;
  // The server names the field it refuses ("destination": on another node); it goes under the select.
  const refusedDestination = isApiError(run.error) && run.error.field === 'destination' ? run.error.message : null;
  const started = workflow !== null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (destination === null) {
      setDestinationError('Choose where to store the backup');
      return;
    }
    run.mutate({ vm: String(vm.id), destination, full }, { onSuccess: setWorkflow });
  };

  return (
    <Modal opened onClose={onClose} title={`Back up ${vm.name}`} size="lg">
      <form onSubmit={submit} noValidate>
        <Stack>
          {noDestinations ? (
            <Alert color="yellow" icon={<IconDatabaseOff />} title="No destination yet">
              Backups are stored in a destination. <Anchor component={Link} to="/destinations">Add a destination</Anchor> first.
            </Alert>
          ) : (
            <>
              <Select
                label="Destination"
                description={lastUsed !== null && destination === lastUsed ? 'Where the last backup of this VM went: the next one can be incremental.' : 'Where the backup is stored'}
                placeholder={destinations.isPending ? 'Loading destinations…' : 'Choose a destination'}
                data={options}
                value={destination}
                onChange={(value) => {
                  setDestination(value);
                  setDestinationError(null);
                  run.reset();
                }}
                error={destinationError ?? refusedDestination}
                allowDeselect={false}
                disabled={started}
                data-autofocus
              />
              {noneOnHost && (
                <Alert color="yellow" icon={<IconDatabaseOff />} title={`No destination on ${host.node}`}>
                  {`The node ${host.node} on ${host.name} reads this VM and writes its backups, so the destination must be a directory on that node (a local disk, or a share mounted there). `}
                  <Anchor component={Link} to="/destinations">
                    Add one
                  </Anchor>
                </Alert>
              )}
              <Checkbox
                label="Full backup"
                description="Read every disk in full, even when an incremental from the last backup is possible. The first backup of a VM is always full."
                checked={full}
                disabled={started}
                onChange={(event) => setFull(event.currentTarget.checked)}
              />
              {excluded.length > 0 && (
                <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
                  {`Excluded from backups: ${excluded.join(', ')}. The VM's page changes that.`}
                </Alert>
              )}
            </>
          )}
          <FormError error={refusedDestination === null ? run.error : null} />
          {workflow !== null && (
            <WorkflowFollow
              steps={backupSteps(workflow)}
              successTitle="Backup stored"
              failureTitle="The backup failed"
              renderSuccess={(tasks) => <BackupSuccess tasks={tasks} vm={vm} />}
            />
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
