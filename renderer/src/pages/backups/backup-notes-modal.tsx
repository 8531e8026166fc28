import { BACKUP_NOTES_MAX, type Backup } from '@common/api/index.js';
import { Button, Group, Modal, Stack, Textarea } from '@mantine/core';
import { useState } from 'react';
import { useUpdateBackupMutation } from '../../api/backups.queries.js';
import { DialogActions } from '../../components/dialog-actions.js';
import { FormError } from '../../components/form-error.js';
import { backupLabel } from './backup-label.js';

/** Free-text notes on one backup ("before the ERP upgrade"); an empty text removes them. */
export function BackupNotesModal({ backup, onClose }: { backup: Backup; onClose: () => void }) {
  const [notes, setNotes] = useState(backup.notes ?? '');
  const update = useUpdateBackupMutation();
  const save = () => update.mutate({ id: backup.id, change: { notes: notes.trim() === '' ? null : notes } }, { onSuccess: onClose });
  return (
    <Modal opened onClose={onClose} title={`Notes on ${backupLabel(backup)}`}>
      <Stack>
        <Textarea
          label="Notes"
          description={`Why it matters, what it holds; at most ${BACKUP_NOTES_MAX} characters.`}
          value={notes}
          onChange={(event) => setNotes(event.currentTarget.value)}
          maxLength={BACKUP_NOTES_MAX}
          autosize
          minRows={3}
          maxRows={10}
          data-autofocus
          rightSection={null}
        />
        <FormError error={update.error} />
        <DialogActions justify="space-between">
          <span aria-live="polite" style={{ fontSize: 12, color: 'var(--mantine-color-dimmed)' }}>{`${notes.length} / ${BACKUP_NOTES_MAX}`}</span>
          <Group>
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button onClick={save} loading={update.isPending}>
              Save notes
            </Button>
          </Group>
        </DialogActions>
      </Stack>
    </Modal>
  );
}
