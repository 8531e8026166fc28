import type { M365Backup, TaskDetails } from '@common/api/index.js';
import { M365RestoreResultSchema } from '@common/m365-tasks.js';
import { Alert, Button, List, Modal, Radio, Select, Stack, Stepper, Text } from '@mantine/core';
import { IconAlertTriangle, IconCircleCheck } from '@tabler/icons-react';
import { useMemo, useState } from 'react';
import { fieldErrorMessage, isApiError } from '../../api/api-error.js';
import { useM365SitesQuery, useM365UsersQuery, useRestoreM365Mutation } from '../../api/m365.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { PathText } from '../../components/path-text.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { RestoreConflictStep, RestoreFolderChoice, RestoreProgressStep, type ConflictOption } from './restore-steps.js';
import {
  defaultLibrary,
  drivesOf,
  parseTarget,
  RESTORE_FIELDS,
  restoreFolderExample,
  restoreRequestOf,
  restoreTargetOptions,
  subjectWords,
  type RestoreConflict,
  type RestoreField,
  type RestoreFolderMode,
  type RestoreWhere,
} from './m365-restore.js';

const SHOWN = 5;

/** How a drive of the backup is named for people: "OneDrive", "library Documents". */
function driveLabel(backup: Pick<M365Backup, 'subject'>, drive: string): string {
  return backup.subject.kind === 'user' && drive === 'drive' ? 'OneDrive' : `library ${drive}`;
}

const CONFLICTS: ConflictOption[] = [
  { value: 'copy', label: 'Keep both', description: 'The restored file gets a new name next to the one there ("report 1.docx"); nothing is overwritten.' },
  { value: 'skip', label: 'Skip', description: 'The file there stays as it is, and the backup’s copy is not restored; the summary lists each one skipped.' },
  { value: 'replace', label: 'Replace', description: 'The file there is overwritten by the backup’s copy (OneDrive keeps the replaced one in its version history).' },
];

/** What a restore's summary counts: files and folders of a drive; messages and mail folders, events and calendars… */
export interface RestoreNouns {
  item: [one: string, many: string];
  folder: [one: string, many: string];
}
const FILE_NOUNS: RestoreNouns = { item: ['file', 'files'], folder: ['folder', 'folders'] };

/** The end of a restore: what was written where, and each item skipped or failed with why. */
export function M365RestoreSummary({ task, nouns = FILE_NOUNS }: { task: TaskDetails; nouns?: RestoreNouns }) {
  const result = M365RestoreResultSchema.safeParse(task.result);
  if (!result.success) return null;
  const { restoredFiles, restoredFolders, restoredBytes, skipped, failed, targetRoot } = result.data;
  const clean = skipped.length === 0 && failed.length === 0;
  return (
    <Alert
      color={failed.length > 0 ? 'red' : clean ? 'green' : 'yellow'}
      icon={failed.length > 0 ? <IconAlertTriangle /> : <IconCircleCheck />}
      title="Restore summary"
      role="status"
      data-testid="m365-restore-result"
    >
      <Stack gap={6}>
        <Text size="sm">
          {`Restored ${restoredFiles} ${restoredFiles === 1 ? nouns.item[0] : nouns.item[1]} and ${restoredFolders} ${restoredFolders === 1 ? nouns.folder[0] : nouns.folder[1]} (${formatBytes(restoredBytes)}) to `}
          <PathText path={targetRoot} code />
        </Text>
        <Text size="sm">{`${skipped.length} skipped, ${failed.length} failed.`}</Text>
        {skipped.length > 0 && <Reasons title="Skipped" items={skipped} />}
        {failed.length > 0 && <Reasons title="Failed" items={failed} />}
      </Stack>
    </Alert>
  );
}

function Reasons({ title, items }: { title: string; items: readonly { path: string; reason: string }[] }) {
  return (
    <Stack gap={2}>
      <Text size="sm" fw={500}>
        {title}
      </Text>
      <List size="sm" spacing={2} aria-label={title}>
        {items.slice(0, 50).map((item, index) => (
          <List.Item key={index}>
            <PathText path={item.path} />
            {`: ${item.reason}`}
          </List.Item>
        ))}
      </List>
      {items.length > 50 && <Text size="xs" c="dimmed">{`and ${items.length - 50} more; the task's log lists them all.`}</Text>}
    </Stack>
  );
}

interface M365RestoreModalProps {
  backup: M365Backup;
  /** Mount paths selected in the explorer ("drive/Documents/a.docx"); null: a whole drive, chosen here. */
  paths: readonly string[] | null;
  onClose: () => void;
}

/**
 * Restore to Microsoft 365, in steps: what (the selection, or a whole drive), where (the
 * original user or site, or another of the tenant with a library for a site, and into a new
 * folder or the original places), what to do with an item already there; then the M365_RESTORE
 * task followed live (items and bytes, rate, ETA) up to its summary.
 */
export function M365RestoreModal({ backup, paths, onClose }: M365RestoreModalProps) {
  const tenant = backup.tenantId === null ? null : String(backup.tenantId);
  const users = useM365UsersQuery(tenant ?? '', tenant !== null);
  const sites = useM365SitesQuery(tenant ?? '', tenant !== null);
  const restore = useRestoreM365Mutation();
  const [active, setActive] = useState(0);
  const [drive, setDrive] = useState<string | null>(backup.parts.length === 1 ? (backup.parts[0]?.name ?? null) : null);
  const [where, setWhere] = useState<RestoreWhere>('original');
  const [target, setTarget] = useState<string | null>(null);
  const [library, setLibrary] = useState<string | null>(null);
  const [folderMode, setFolderMode] = useState<RestoreFolderMode>('new');
  const [folderName, setFolderName] = useState('');
  const [conflict, setConflict] = useState<RestoreConflict>('copy');
  const [errors, setErrors] = useState<Partial<Record<RestoreField | 'drive', string>>>({});
  const [taskId, setTaskId] = useState<number | null>(null);
  const [example] = useState(() => restoreFolderExample(new Date()));

  const chosenPaths = paths ?? (drive === null ? [] : [drive]);
  const sourceDrive = drivesOf(chosenPaths)[0] ?? drive ?? '';
  const targets = useMemo(() => restoreTargetOptions(backup, users.data ?? [], sites.data ?? []), [backup, users.data, sites.data]);
  const parsedTarget = target === null ? null : parseTarget(target);
  const targetSite = parsedTarget?.kind === 'site' ? sites.data?.find((site) => site.name === parsedTarget.ref) : undefined;
  const locked = taskId !== null;

  const change = (field: RestoreField | 'drive') => {
    setErrors(({ [field]: _gone, ...rest }) => rest);
    restore.reset();
  };

  const nextFromWhat = () => {
    if (chosenPaths.length === 0) return setErrors({ drive: 'Choose the drive to restore' });
    if (drivesOf(chosenPaths).length > 1) return setErrors({ paths: 'A restore takes the files of one drive: select within one drive' });
    setActive(1);
  };
  const nextFromWhere = () => {
    const outcome = restoreRequestOf({ paths: chosenPaths, where, target, library, folderMode, folderName, conflict });
    if ('errors' in outcome) {
      setErrors(outcome.errors);
      if (outcome.errors.paths !== undefined) setActive(0);
      return;
    }
    setActive(2);
  };
  const submit = () => {
    const outcome = restoreRequestOf({ paths: chosenPaths, where, target, library, folderMode, folderName, conflict });
    if ('errors' in outcome) {
      setErrors(outcome.errors);
      setActive(outcome.errors.paths !== undefined ? 0 : outcome.errors.conflict !== undefined ? 2 : 1);
      return;
    }
    restore.mutate(
      { id: backup.id, request: outcome.request },
      {
        onSuccess: ({ taskId: id }) => {
          setTaskId(id);
          setActive(3);
        },
        onError: (error) => {
          // A refusal about a field goes under it, on its step.
          if (!isApiError(error)) return;
          const field = RESTORE_FIELDS.find((candidate) => candidate === error.field);
          if (field === undefined) return;
          setErrors({ [field]: fieldErrorMessage(error, field) });
          setActive(field === 'paths' ? 0 : field === 'conflict' ? 2 : 1);
        },
      },
    );
  };
  const refusal = restore.error;
  const shownOnField = isApiError(refusal) && RESTORE_FIELDS.some((field) => field === refusal.field);
  const originalWords = subjectWords(backup.subject);
  const whereWords =
    where === 'original' ? `${originalWords}` : parsedTarget === null ? 'another user or site' : parsedTarget.kind === 'user' ? `${parsedTarget.ref}'s OneDrive` : `site ${parsedTarget.ref}${library === null ? '' : `, library ${library}`}`;

  return (
    <Modal
      opened
      onClose={onClose}
      title={`Restore ${backup.subject.name} from ${formatDateTime(backup.createdAt)}`}
      size="xl"
      closeOnClickOutside={!locked && !restore.isPending}
    >
      <Stepper active={active} onStepClick={locked ? undefined : (step) => step < active && setActive(step)} size="sm" allowNextStepsSelect={false}>
        <Stepper.Step label="What" description={paths === null ? (drive === null ? 'A whole drive' : `All of ${driveLabel(backup, drive)}`) : `${paths.length} selected`}>
          <Stack mt="md">
            {paths === null ? (
              backup.parts.length > 1 ? (
                <Select
                  label="Drive"
                  description="A restore takes one drive at a time: everything in it as it was in this backup."
                  placeholder="Choose a document library"
                  data={backup.parts.map((part) => ({ value: part.name, label: `${driveLabel(backup, part.name)} · ${part.files} files, ${formatBytes(part.bytes)}` }))}
                  value={drive}
                  onChange={(value) => {
                    setDrive(value);
                    change('drive');
                  }}
                  error={errors.drive}
                  allowDeselect={false}
                  data-autofocus
                />
              ) : (
                <Text size="sm">{`Everything in ${drive === null ? 'the backup' : driveLabel(backup, drive)} as it was in this backup (${formatBytes(backup.bytes)} in ${backup.files} files).`}</Text>
              )
            ) : (
              <Stack gap={4}>
                <Text size="sm">{`${paths.length === 1 ? 'This item' : `These ${paths.length} items`} of ${driveLabel(backup, sourceDrive)}, folders with everything in them:`}</Text>
                <List size="sm" spacing={2} aria-label="To restore">
                  {paths.slice(0, SHOWN).map((path) => (
                    <List.Item key={path}>
                      <PathText path={path} code />
                    </List.Item>
                  ))}
                </List>
                {paths.length > SHOWN && <Text size="xs" c="dimmed">{`and ${paths.length - SHOWN} more`}</Text>}
                {errors.paths !== undefined && (
                  <Text size="sm" c="red" role="alert">
                    {errors.paths}
                  </Text>
                )}
              </Stack>
            )}
            <DialogActions>
              <Button variant="default" onClick={onClose}>
                Cancel
              </Button>
              <Button onClick={nextFromWhat}>Next</Button>
            </DialogActions>
          </Stack>
        </Stepper.Step>

        <Stepper.Step label="Where" description={whereWords}>
          <Stack mt="md">
            <Radio.Group
              label="Restore to"
              // The server's refusal of the original place (a library gone since) shows here; the other fields show their own.
              error={where === 'original' ? (errors.to ?? errors.toLibrary) : undefined}
              value={where}
              onChange={(value) => {
                setWhere(value === 'other' ? 'other' : 'original');
                change('to');
                change('toLibrary');
              }}
            >
              <Stack gap="xs" mt="xs">
                <Radio value="original" label={`The original place: ${originalWords}`} />
                <Radio value="other" label="Another user or site of the tenant" disabled={tenant === null} />
              </Stack>
            </Radio.Group>
            {tenant === null && <Text size="xs" c="dimmed">The tenant of this backup was removed from vPlus, so only its original place is known.</Text>}
            {where === 'other' && (
              <>
                <Select
                  label="User or site"
                  description="Users with a OneDrive and sites with a document library, as the tenant's last sync listed them"
                  placeholder={users.isPending || sites.isPending ? 'Loading the tenant’s users and sites…' : 'Search a user or site'}
                  data={targets}
                  value={target}
                  searchable
                  nothingFoundMessage="No user or site of that name"
                  onChange={(value) => {
                    setTarget(value);
                    const parsed = value === null ? null : parseTarget(value);
                    const site = parsed?.kind === 'site' ? sites.data?.find((candidate) => candidate.name === parsed.ref) : undefined;
                    setLibrary(site === undefined ? null : defaultLibrary(site, sourceDrive));
                    change('to');
                  }}
                  error={errors.to}
                  allowDeselect={false}
                />
                {targetSite !== undefined && (
                  <Select
                    label="Document library"
                    data={targetSite.libraries.filter((candidate) => candidate.present).map((candidate) => candidate.name)}
                    value={library}
                    onChange={(value) => {
                      setLibrary(value);
                      change('toLibrary');
                    }}
                    error={errors.toLibrary}
                    allowDeselect={false}
                  />
                )}
              </>
            )}
            <RestoreFolderChoice
              label="Folder"
              newLabel="Into a new folder"
              newDescription="Everything goes into one new folder at the drive's root, next to what is there; nothing there is touched."
              originalLabel="Back to the original places"
              originalDescription="Each item goes back to the folder it was in; an item still there is a conflict (next step)."
              nameLabel="New folder's name"
              mode={folderMode}
              onMode={(mode) => {
                setFolderMode(mode);
                change('folder');
              }}
              name={folderName}
              onName={(name) => {
                setFolderName(name);
                change('folder');
              }}
              example={example}
              error={errors.folder}
            />
            <DialogActions justify="space-between">
              <Button variant="default" onClick={() => setActive(0)}>
                Back
              </Button>
              <Button onClick={nextFromWhere}>Next</Button>
            </DialogActions>
          </Stack>
        </Stepper.Step>

        <Stepper.Step label="Conflicts" description={CONFLICTS.find((option) => option.value === conflict)?.label}>
          <RestoreConflictStep
            label="When an item of that name is already there"
            options={CONFLICTS}
            conflict={conflict}
            onConflict={(value) => {
              setConflict(value);
              change('conflict');
            }}
            replaceWarning="Files there now with the same names are overwritten."
            error={errors.conflict}
            recap={`${chosenPaths.length === 1 ? '1 item' : `${chosenPaths.length} items`} of ${driveLabel(backup, sourceDrive)} → ${whereWords}, ${
              folderMode === 'original' ? 'back to their original folders' : `into the new folder “${folderName.trim() || example}”`
            }.`}
            formError={shownOnField ? null : restore.error}
            pending={restore.isPending}
            onBack={() => setActive(1)}
            onSubmit={submit}
          />
        </Stepper.Step>

        <Stepper.Step label="Progress" description={taskId === null ? 'Follow it live' : 'Restore'}>
          {taskId !== null && <RestoreProgressStep taskId={taskId} summary={(task) => <M365RestoreSummary task={task} />} onClose={onClose} />}
        </Stepper.Step>
      </Stepper>
    </Modal>
  );
}

