import type { M365Backup } from '@common/api/index.js';
import { Button, Group, Stack, Text, Tooltip } from '@mantine/core';
import { IconFolderSearch, IconRestore } from '@tabler/icons-react';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { errorMessage } from '../../api/api-error.js';
import { useBrowseM365BackupMutation } from '../../api/m365.queries.js';
import { useSession } from '../../auth/session-context.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { M365RestoreModal } from './m365-restore-modal.js';

const REMOVED = 'This backup was pruned from its destination: there is nothing left to browse or restore.';

/**
 * "Browse" opens the backup as a mount (the one already open, if any) and goes to its file
 * explorer; "Restore…" restores a whole drive of it to Microsoft 365. A refusal is told under
 * the buttons. Viewers see neither: the server lets them see no file of a backup.
 */
export function M365BackupActions({ backup }: { backup: M365Backup }) {
  const { canChange } = useSession();
  const navigate = useNavigate();
  const browse = useBrowseM365BackupMutation();
  const [restoring, setRestoring] = useState(false);
  const removed = backup.status === 'removed';
  const when = new Date(backup.createdAt).toLocaleString();
  if (!canChange) return null;

  const browseButton = (
    <Button
      size="xs"
      variant="default"
      leftSection={<IconFolderSearch size={14} aria-hidden />}
      loading={browse.isPending}
      // data-disabled, not disabled: a disabled button gets no hover or focus, so no tooltip.
      data-disabled={removed || undefined}
      aria-disabled={removed || undefined}
      onClick={() => !removed && browse.mutate(backup.id, { onSuccess: (mount) => void navigate(`/mounts/${mount.id}`) })}
      style={NO_SHRINK}
    >
      Browse
    </Button>
  );
  return (
    <Stack gap={4} align="flex-end">
      <Group gap={4} wrap="nowrap">
        {removed ? (
          <Tooltip label={REMOVED} multiline maw={320} withArrow>
            {browseButton}
          </Tooltip>
        ) : (
          browseButton
        )}
        <Button
          size="xs"
          variant="default"
          leftSection={<IconRestore size={14} aria-hidden />}
          disabled={removed}
          onClick={() => setRestoring(true)}
          title={`Restore ${backup.subject.name} from the backup of ${when}`}
          style={NO_SHRINK}
        >
          Restore…
        </Button>
      </Group>
      {browse.isError && (
        <Text size="xs" c="red" role="alert" maw={280} ta="right">
          {errorMessage(browse.error)}
        </Text>
      )}
      {restoring && <M365RestoreModal backup={backup} paths={null} onClose={() => setRestoring(false)} />}
    </Stack>
  );
}
