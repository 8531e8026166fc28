import type { M365Backup, Mount } from '@common/api/index.js';
import { Anchor, Group, Skeleton, Stack, Text } from '@mantine/core';
import { Link, useParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useM365BackupQuery } from '../api/m365.queries.js';
import { useMountQuery } from '../api/mounts.queries.js';
import { BackLink } from '../components/back-link.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { useInventoryVm } from '../hooks/use-inventory-vm.js';
import { exchangePartsOf, hasDrivePart } from '../utils/exchange-format.js';
import { formatDateTime } from '../utils/format.js';
import { isActiveMount, isM365Mount } from '../utils/mount-format.js';
import { ExchangeBrowser } from './exchange/exchange-browser.js';
import { FileExplorer } from './mounts/file-explorer.js';
import { IscsiDetails } from './mounts/iscsi-details.js';
import { MountActions } from './mounts/mount-actions.js';
import { MountStateBadge } from './mounts/mount-state-badge.js';
import { MountStatus } from './mounts/mount-status.js';

/** One mount: its state and lifetime, then its files (or, for an iSCSI export, how to connect). */
export function MountExplorerPage() {
  const id = Number.parseInt(useParams().id ?? '', 10);
  const valid = Number.isInteger(id) && id > 0;
  const mount = useMountQuery(id, valid);

  if (!valid || isApiError(mount.error, 404)) {
    return (
      <NotFoundState
        pageTitle="Mount not found"
        title={valid ? `There is no mount ${id}` : 'This is not a mount address'}
        description="It may have been closed and cleaned up, or the link is wrong. Open the backup again from the Backups page."
        back={{ to: '/mounts', label: 'All mounts' }}
        goTo={{ to: '/backups', label: 'Go to backups' }}
      />
    );
  }
  if (mount.data === undefined) {
    if (mount.isError) return <QueryErrorAlert title="Could not load the mount" error={mount.error} onRetry={() => void mount.refetch()} />;
    return <Skeleton h={320} radius="md" aria-label="Loading the mount" />;
  }
  return <MountView mount={mount.data} />;
}

/** What the mount is of, for its header: a VM by its inventory name, or a Microsoft 365 user's OneDrive or site, with its tenant. */
function useMountSubject(mount: Mount): { title: string; source: string; tenant: { id: number; name: string } | null } {
  const vm = useInventoryVm(isM365Mount(mount) ? '' : mount.vm);
  const m365 = useM365BackupQuery(mount.m365BackupId);
  if (!isM365Mount(mount)) return { title: vm?.name ?? mount.vm, source: mount.kind === 'iscsi' ? 'iSCSI export' : 'Files', tenant: null };
  const backup = m365.data;
  const subject = backup?.subject;
  return {
    title: subject === undefined ? mount.vm : subject.kind === 'user' ? `${userHoldings(backup)} of ${subject.name}` : `Site ${subject.name}`,
    source: backup === undefined ? 'Microsoft 365 backup' : `Microsoft 365 ${backup.kind} backup`,
    tenant: backup !== undefined && backup.tenantId !== null && backup.tenant !== null ? { id: backup.tenantId, name: backup.tenant } : null,
  };
}

/** What a user's backup holds, for its title: "OneDrive", "Mailbox", "OneDrive and mailbox". */
function userHoldings(backup: M365Backup | undefined): string {
  if (backup === undefined || exchangePartsOf(backup).length === 0) return 'OneDrive';
  return hasDrivePart(backup) ? 'OneDrive and mailbox' : 'Mailbox';
}

/** A Microsoft 365 backup with a mailbox, calendars or contacts gets a tab for each; anything else the file explorer. */
function MountContents({ mount }: { mount: Mount }) {
  const m365 = useM365BackupQuery(mount.m365BackupId);
  const parts = exchangePartsOf(m365.data);
  if (isM365Mount(mount) && m365.data === undefined && m365.isPending) return <Skeleton h={320} radius="md" aria-label="Loading the backup" />;
  if (m365.data !== undefined && parts.length > 0) return <ExchangeBrowser mount={mount} backup={m365.data} parts={parts} />;
  return <FileExplorer mount={mount} />;
}

function MountView({ mount }: { mount: Mount }) {
  const subject = useMountSubject(mount);
  return (
    <>
      <BackLink to="/mounts" label="All mounts" />
      <PageHeader
        title={`${subject.title}: ${formatDateTime(mount.backupCreatedAt)}`}
        description={
          <Group gap="xs" component="span" wrap="wrap">
            <MountStateBadge mount={mount} />
            <span>{`${subject.source} from ${mount.destination}, on ${mount.node}`}</span>
            {subject.tenant !== null && (
              <span>
                {'· tenant '}
                <Anchor component={Link} to={`/m365/${subject.tenant.id}?tab=backups`} size="sm">
                  {subject.tenant.name}
                </Anchor>
              </span>
            )}
            {isActiveMount(mount.state) && mount.expiresAt !== null && (
              <span data-testid="mount-expires" title="Each use (a listing, a download) starts the idle time again">
                {`· closes at ${formatDateTime(mount.expiresAt)} if unused`}
              </span>
            )}
          </Group>
        }
        actions={<MountActions mount={mount} size="sm" />}
      />
      <Stack>
        <MountStatus mount={mount} />
        {mount.overlay && mount.state === 'MOUNTED' && mount.kind === 'browse' && !isM365Mount(mount) && (
          <Text size="xs" c="dimmed">
            Read-only. Filesystem journals were replayed in a scratch overlay, so the backup itself is never written to.
          </Text>
        )}
        {mount.kind === 'iscsi' && mount.iscsi !== null && isActiveMount(mount.state) && <IscsiDetails iscsi={mount.iscsi} />}
        {mount.kind === 'browse' && mount.state === 'MOUNTED' && <MountContents mount={mount} />}
      </Stack>
    </>
  );
}
