import type { BrowseEntry, Mount } from '@common/api/index.js';
import { Button, Group, Text } from '@mantine/core';
import { IconCloudUpload, IconDownload, IconFileZip, IconRestore, IconX } from '@tabler/icons-react';
import { useState } from 'react';
import { useM365BackupQuery } from '../../api/m365.queries.js';
import { useSession } from '../../auth/session-context.js';
import { isM365Mount, mountContentUrl, mountZipUrl } from '../../utils/mount-format.js';
import { exchangePartsOf } from '../../utils/exchange-format.js';
import { ExchangeRestoreModal, selectionWords } from '../exchange/exchange-restore-modal.js';
import { partOfPaths } from '../exchange/exchange-restore.js';
import { M365RestoreModal } from '../m365/m365-restore-modal.js';
import { RestoreFilesModal } from './restore-files-modal.js';

interface SelectionActionsProps {
  mount: Mount;
  /** The selected entries' paths in the mount, in the order of `entries`. */
  paths: readonly string[];
  entries: readonly BrowseEntry[];
  onClear: () => void;
}

/**
 * Download (one file as itself, anything else as a zip the server streams) and Restore… for
 * the rows selected. Downloads are plain links: the browser writes them straight to disk. A
 * Microsoft 365 backup's files are restored to Microsoft 365 (a user's OneDrive, a site's
 * library) instead of to a directory on a node.
 */
export function SelectionActions({ mount, paths, entries, onClear }: SelectionActionsProps) {
  const { canChange } = useSession();
  const [restoring, setRestoring] = useState<readonly string[] | null>(null);
  const m365 = isM365Mount(mount);
  const backup = useM365BackupQuery(mount.m365BackupId);
  const count = paths.length;
  // Mail, events and contacts of a user's backup restore to a mailbox, not to a OneDrive.
  const part = restoring === null ? null : partOfPaths(restoring);
  const exchangePart = part !== null && (exchangePartsOf(backup.data) as readonly string[]).includes(part) ? part : null;
  const single = count === 1 && entries[0]?.type === 'file' ? paths[0] : undefined;
  const href = count === 0 ? undefined : single !== undefined ? mountContentUrl(mount.id, single, true) : mountZipUrl(mount.id, paths);

  return (
    <Group justify="space-between" mb="xs" wrap="wrap" gap="xs">
      <Text size="sm" c={count === 0 ? 'dimmed' : undefined} data-testid="selection-count">
        {count === 0 ? 'Select files or folders to download or restore them.' : `${count} selected`}
      </Text>
      <Group gap="xs">
        {count > 0 && (
          <Button variant="subtle" size="xs" leftSection={<IconX size={14} aria-hidden />} onClick={onClear}>
            Clear selection
          </Button>
        )}
        {href === undefined ? (
          <Button size="xs" variant="default" leftSection={<IconDownload size={14} aria-hidden />} disabled>
            Download
          </Button>
        ) : (
          <Button
            component="a"
            href={href}
            download
            size="xs"
            variant="default"
            leftSection={single !== undefined ? <IconDownload size={14} aria-hidden /> : <IconFileZip size={14} aria-hidden />}
            title={single !== undefined ? 'Download this file' : 'Download the selection as one zip file'}
          >
            {single !== undefined ? 'Download' : 'Download as zip'}
          </Button>
        )}
        {canChange && !m365 && (
          <Button size="xs" leftSection={<IconRestore size={14} aria-hidden />} disabled={count === 0} onClick={() => setRestoring([...paths])}>
            Restore…
          </Button>
        )}
        {canChange && m365 && (
          <Button
            size="xs"
            leftSection={<IconCloudUpload size={14} aria-hidden />}
            disabled={count === 0 || backup.data === undefined}
            loading={backup.isPending}
            onClick={() => setRestoring([...paths])}
          >
            Restore to Microsoft 365…
          </Button>
        )}
      </Group>
      {restoring !== null && !m365 && <RestoreFilesModal mount={mount} paths={restoring} onClose={() => setRestoring(null)} />}
      {restoring !== null && m365 && backup.data !== undefined && exchangePart === null && <M365RestoreModal backup={backup.data} paths={restoring} onClose={() => setRestoring(null)} />}
      {restoring !== null && backup.data !== undefined && exchangePart !== null && (
        <ExchangeRestoreModal backup={backup.data} part={exchangePart} paths={restoring} what={selectionWords(exchangePart, restoring, true)} onClose={() => setRestoring(null)} />
      )}
    </Group>
  );
}
