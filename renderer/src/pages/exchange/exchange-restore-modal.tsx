import type { M365Backup } from '@common/api/index.js';
import { Button, List, Modal, Radio, Select, Stack, Stepper, Text } from '@mantine/core';
import { useMemo, useState } from 'react';
import { fieldErrorMessage, isApiError } from '../../api/api-error.js';
import { useM365UsersQuery, useRestoreM365Mutation } from '../../api/m365.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { PathText } from '../../components/path-text.js';
import { countWords, ITEM_NOUNS, type ExchangePart } from '../../utils/exchange-format.js';
import { formatDateTime } from '../../utils/format.js';
import { M365RestoreSummary, type RestoreNouns } from '../m365/m365-restore-modal.js';
import { RestoreConflictStep, RestoreFolderChoice, RestoreProgressStep, type ConflictOption } from '../m365/restore-steps.js';
import { restoreFolderExample, type RestoreConflict, type RestoreFolderMode, type RestoreWhere } from '../m365/m365-restore.js';
import { EXCHANGE_RESTORE_FIELDS, exchangeRestoreRequestOf, FOLDER_WORDS, mailboxTargetOptions, type ExchangeRestoreField } from './exchange-restore.js';

const SHOWN = 5;

const CONFLICTS: Record<ExchangePart, ConflictOption[]> = {
  mail: [
    { value: 'skip', label: 'Skip', description: 'A message already there (the same Internet message id in that folder) stays, and the backup’s copy is not restored; the summary lists each one.' },
    { value: 'copy', label: 'Keep both', description: 'The backup’s message is restored next to the one there: the folder then holds both.' },
    { value: 'replace', label: 'Replace', description: 'The message there is deleted and the backup’s copy restored in its place.' },
  ],
  calendar: [
    { value: 'skip', label: 'Skip', description: 'An event already there (the same iCalendar id) stays, and the backup’s copy is not restored.' },
    { value: 'copy', label: 'Keep both', description: 'The backup’s event is added next to the one there.' },
    { value: 'replace', label: 'Replace', description: 'The event there is deleted and the backup’s copy restored in its place.' },
  ],
  contacts: [
    { value: 'skip', label: 'Skip', description: 'A contact already there (the same name and e-mail) stays, and the backup’s copy is not restored.' },
    { value: 'copy', label: 'Keep both', description: 'The backup’s contact is added next to the one there.' },
    { value: 'replace', label: 'Replace', description: 'The contact there is deleted and the backup’s copy restored in its place.' },
  ],
};

const NOUNS: Record<ExchangePart, RestoreNouns> = {
  mail: { item: ITEM_NOUNS.mail, folder: ['folder', 'folders'] },
  calendar: { item: ITEM_NOUNS.calendar, folder: ['calendar', 'calendars'] },
  contacts: { item: ITEM_NOUNS.contacts, folder: ['contact folder', 'contact folders'] },
};

interface ExchangeRestoreModalProps {
  backup: M365Backup;
  part: ExchangePart;
  /** Mount paths of that part: messages, folders ("mail/Inbox"), the part itself ("mail") for all of it. */
  paths: readonly string[];
  /** How the selection reads: "3 messages", "the folder Inbox". */
  what: string;
  onClose: () => void;
}

/**
 * Restore mail, events or contacts to Microsoft 365, in steps as the drive restore: what, where
 * (the original user's mailbox or another user's of the tenant that has one; into a new
 * "Restore-<date>" folder or the original folders), what to do with an item already there;
 * then the M365_RESTORE task followed live (rate, ETA) up to its summary.
 */
export function ExchangeRestoreModal({ backup, part, paths, what, onClose }: ExchangeRestoreModalProps) {
  const tenant = backup.tenantId === null ? null : String(backup.tenantId);
  const users = useM365UsersQuery(tenant ?? '', tenant !== null);
  const restore = useRestoreM365Mutation();
  const [active, setActive] = useState(0);
  const [where, setWhere] = useState<RestoreWhere>('original');
  const [target, setTarget] = useState<string | null>(null);
  const [folderMode, setFolderMode] = useState<RestoreFolderMode>('new');
  const [folderName, setFolderName] = useState('');
  const [conflict, setConflict] = useState<RestoreConflict>('skip');
  const [errors, setErrors] = useState<Partial<Record<ExchangeRestoreField, string>>>({});
  const [taskId, setTaskId] = useState<number | null>(null);
  const [example] = useState(() => restoreFolderExample(new Date()));
  const targets = useMemo(() => mailboxTargetOptions(backup, users.data ?? []), [backup, users.data]);
  const locked = taskId !== null;
  const words = FOLDER_WORDS[part];
  const choices = { paths, where, target, folderMode, folderName, conflict };

  const change = (field: ExchangeRestoreField) => {
    setErrors(({ [field]: _gone, ...rest }) => rest);
    restore.reset();
  };
  const stepOf = (fields: Partial<Record<ExchangeRestoreField, string>>) => (fields.paths !== undefined ? 0 : fields.conflict !== undefined ? 2 : 1);
  const nextFromWhere = () => {
    const outcome = exchangeRestoreRequestOf(choices);
    if ('errors' in outcome) {
      setErrors(outcome.errors);
      setActive(stepOf(outcome.errors));
      return;
    }
    setActive(2);
  };
  const submit = () => {
    const outcome = exchangeRestoreRequestOf(choices);
    if ('errors' in outcome) {
      setErrors(outcome.errors);
      setActive(stepOf(outcome.errors));
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
          // A refusal about a field goes under it, on its step; any other shows above the buttons.
          if (!isApiError(error)) return;
          const field = EXCHANGE_RESTORE_FIELDS.find((candidate) => candidate === error.field);
          if (field === undefined) return;
          setErrors({ [field]: fieldErrorMessage(error, field) });
          setActive(stepOf({ [field]: 'x' }));
        },
      },
    );
  };
  const refusal = restore.error;
  const shownOnField = isApiError(refusal) && EXCHANGE_RESTORE_FIELDS.some((field) => field === refusal.field);
  const whereWords = where === 'original' ? `${backup.subject.name}'s ${words.place}` : target === null ? 'another user' : `${target}'s ${words.place}`;
  const folderWords = folderMode === 'original' ? `back into their original ${words.folder}s` : `into the new ${words.folder} “${folderName.trim() || example}”`;

  return (
    <Modal opened onClose={onClose} title={`Restore ${what} of ${backup.subject.name} from ${formatDateTime(backup.createdAt)}`} size="xl" closeOnClickOutside={!locked && !restore.isPending}>
      <Stepper active={active} onStepClick={locked ? undefined : (step) => step < active && setActive(step)} size="sm" allowNextStepsSelect={false}>
        <Stepper.Step label="What" description={what}>
          <Stack mt="md">
            <Text size="sm">{`These, with everything in the ${words.folder}s among them, as they were in this backup:`}</Text>
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
            <DialogActions>
              <Button variant="default" onClick={onClose}>
                Cancel
              </Button>
              <Button onClick={() => setActive(1)} data-autofocus>
                Next
              </Button>
            </DialogActions>
          </Stack>
        </Stepper.Step>

        <Stepper.Step label="Where" description={whereWords}>
          <Stack mt="md">
            <Radio.Group
              label="Restore to"
              value={where}
              onChange={(value) => {
                setWhere(value === 'other' ? 'other' : 'original');
                change('to');
              }}
              error={where === 'original' ? errors.to : undefined}
            >
              <Stack gap="xs" mt="xs">
                <Radio value="original" label={`The original ${words.place}: ${backup.subject.name}`} />
                <Radio value="other" label="Another user of the tenant" disabled={tenant === null} />
              </Stack>
            </Radio.Group>
            {tenant === null && <Text size="xs" c="dimmed">The tenant of this backup was removed from vPlus, so only its original user is known.</Text>}
            {where === 'other' && (
              <Select
                label="User"
                description="Users with a mailbox, as the tenant's last sync listed them"
                placeholder={users.isPending ? 'Loading the tenant’s users…' : 'Search a user'}
                data={targets}
                value={target}
                searchable
                nothingFoundMessage="No user with a mailbox of that name"
                onChange={(value) => {
                  setTarget(value);
                  change('to');
                }}
                error={errors.to ?? (users.isError ? 'Could not load the tenant’s users; try again later' : undefined)}
                allowDeselect={false}
              />
            )}
            <RestoreFolderChoice
              label={`Into which ${words.folder}`}
              newLabel={`Into a new ${words.folder}`}
              newDescription={`Everything goes into one new ${words.folder}, keeping the folders below it; nothing there is touched.`}
              originalLabel={`Back into the original ${words.folder}s`}
              originalDescription={`Each item goes back to the ${words.folder} it was in (made again if it is gone); an item still there is a conflict (next step).`}
              nameLabel={`New ${words.folder}'s name`}
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

        <Stepper.Step label="Conflicts" description={CONFLICTS[part].find((option) => option.value === conflict)?.label}>
          <RestoreConflictStep
            label="When the item is already there"
            options={CONFLICTS[part]}
            conflict={conflict}
            onConflict={(value) => {
              setConflict(value);
              change('conflict');
            }}
            replaceWarning="Items there now that the backup also holds are deleted and replaced."
            error={errors.conflict}
            recap={`${what} → ${whereWords}, ${folderWords}.`}
            formError={shownOnField ? null : restore.error}
            pending={restore.isPending}
            onBack={() => setActive(1)}
            onSubmit={submit}
          />
        </Stepper.Step>

        <Stepper.Step label="Progress" description={taskId === null ? 'Follow it live' : 'Restore'}>
          {taskId !== null && <RestoreProgressStep taskId={taskId} summary={(task) => <M365RestoreSummary task={task} nouns={NOUNS[part]} />} onClose={onClose} />}
        </Stepper.Step>
      </Stepper>
    </Modal>
  );
}

/** "3 messages", "the folder Inbox", "the whole mailbox": the selection in words, for the dialog's title. */
export function selectionWords(part: ExchangePart, paths: readonly string[], selectedItems: boolean): string {
  if (selectedItems) return countWords(part, paths.length);
  const [path] = paths;
  if (path === part || path === undefined) return part === 'mail' ? 'the whole mailbox' : part === 'calendar' ? 'every calendar' : 'every contact';
  return `the ${FOLDER_WORDS[part].folder} ${path.slice(path.lastIndexOf('/') + 1)}`;
}
