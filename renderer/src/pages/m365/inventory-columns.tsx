import type { M365Site, M365User } from '@common/api/index.js';
import { Anchor, Badge, Button, Group, Text, VisuallyHidden } from '@mantine/core';
import { IconPlayerPlay } from '@tabler/icons-react';
import { createColumnHelper } from '@tanstack/react-table';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useSession } from '../../auth/session-context.js';
import { RelativeTime } from '../../components/relative-time.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { M365BackupNowModal, type M365BackupSubject } from './m365-backup-now-modal.js';

/** When it was last backed up, a link to its backups (the tenant page's Backups tab, filtered). */
function LastBackup({ iso, kind, id, name }: { iso: string | null; kind: 'user' | 'site'; id: number; name: string }) {
  if (iso === null) return <RelativeTime iso={null} never="Never" />;
  return (
    <Anchor component={Link} to={{ search: `?tab=backups&subject=${kind}:${id}` }} underline="hover" title={`Backups of ${name}`} c="inherit">
      <RelativeTime iso={iso} />
    </Anchor>
  );
}

/** "Back up now" for operators; a user without a OneDrive, or one gone from the tenant, has nothing to read. */
function BackupNowButton({ subject, unavailable }: { subject: M365BackupSubject; unavailable: string | null }) {
  const { canChange } = useSession();
  const [open, setOpen] = useState(false);
  if (!canChange) return null;
  return (
    <>
      <Button
        size="xs"
        variant="default"
        leftSection={<IconPlayerPlay size={14} aria-hidden />}
        disabled={unavailable !== null}
        title={unavailable ?? `Back up ${subject.name} now`}
        onClick={() => setOpen(true)}
        style={NO_SHRINK}
      >
        Back up now
      </Button>
      {open && <M365BackupNowModal subject={subject} onClose={() => setOpen(false)} />}
    </>
  );
}

/** A removed user or site stays listed (its backups keep an owner), marked so. */
function Removed({ present }: { present: boolean }) {
  return present ? null : (
    <Badge size="xs" color="gray" variant="outline" component="span">
      Removed
    </Badge>
  );
}

const user = createColumnHelper<M365User>();

export const userColumns = [
  user.accessor('upn', {
    header: 'User principal name',
    cell: ({ row }) => (
      <Group gap={6} wrap="nowrap">
        <Text size="sm" style={{ overflowWrap: 'anywhere' }} c={row.original.present ? undefined : 'dimmed'}>
          {row.original.upn}
        </Text>
        <Removed present={row.original.present} />
      </Group>
    ),
  }),
  user.accessor('displayName', { header: 'Name' }),
  user.accessor('hasDrive', {
    header: 'OneDrive',
    cell: (info) =>
      info.getValue() ? (
        <Text size="sm">Yes</Text>
      ) : (
        <Text size="sm" c="dimmed">
          None
        </Text>
      ),
  }),
  user.accessor('lastBackupAt', {
    header: 'Last backup',
    cell: ({ row }) => <LastBackup iso={row.original.lastBackupAt} kind="user" id={row.original.id} name={row.original.upn} />,
  }),
  user.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => {
      const u = row.original;
      const unavailable = !u.present ? `${u.upn} is no longer in the tenant` : !u.hasDrive ? `${u.upn} has no OneDrive` : null;
      return <BackupNowButton subject={{ kind: 'user', id: u.id, name: u.upn, tenant: u.tenant }} unavailable={unavailable} />;
    },
  }),
];

const site = createColumnHelper<M365Site>();

export const siteColumns = [
  site.accessor('displayName', {
    header: 'Site',
    cell: ({ row }) => (
      <Group gap={6} wrap="nowrap">
        <Text size="sm" fw={500} c={row.original.present ? undefined : 'dimmed'}>
          {row.original.displayName || row.original.name || '(root site)'}
        </Text>
        <Removed present={row.original.present} />
      </Group>
    ),
  }),
  site.accessor('url', {
    header: 'URL',
    cell: (info) => {
      const url = info.getValue();
      return url === null ? (
        <Text size="sm" c="dimmed">
          —
        </Text>
      ) : (
        <Anchor href={url} target="_blank" rel="noreferrer" size="sm" style={{ overflowWrap: 'anywhere' }}>
          {url}
        </Anchor>
      );
    },
  }),
  site.display({
    id: 'libraries',
    header: 'Document libraries',
    cell: ({ row }) => (
      <Group gap={4}>
        {row.original.libraries.map((library) => (
          <Badge key={library.id} variant={library.present ? 'light' : 'outline'} color={library.present ? 'blue' : 'gray'} component="span" tt="none">
            {library.name}
          </Badge>
        ))}
      </Group>
    ),
  }),
  site.accessor('lastBackupAt', {
    header: 'Last backup',
    cell: ({ row }) => <LastBackup iso={row.original.lastBackupAt} kind="site" id={row.original.id} name={row.original.displayName || row.original.name} />,
  }),
  site.display({
    id: 'actions',
    header: () => <VisuallyHidden>Actions</VisuallyHidden>,
    cell: ({ row }) => {
      const s = row.original;
      const name = s.displayName || s.name || '(root site)';
      const unavailable = !s.present ? `${name} is no longer in the tenant` : !s.libraries.some((library) => library.present) ? `${name} has no document library` : null;
      return <BackupNowButton subject={{ kind: 'site', id: s.id, name, tenant: s.tenant }} unavailable={unavailable} />;
    },
  }),
];
