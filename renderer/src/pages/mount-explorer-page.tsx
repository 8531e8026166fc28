import type { Mount } from '@common/api/index.js';
import { Group, Skeleton, Stack, Text } from '@mantine/core';
import { useParams } from 'react-router-dom';
import { isApiError } from '../api/api-error.js';
import { useMountQuery } from '../api/mounts.queries.js';
import { BackLink } from '../components/back-link.js';
import { NotFoundState } from '../components/not-found-state.js';
import { PageHeader } from '../components/page-header.js';
import { QueryErrorAlert } from '../components/query-error-alert.js';
import { useInventoryVm } from '../hooks/use-inventory-vm.js';
import { formatDateTime } from '../utils/format.js';
import { isActiveMount } from '../utils/mount-format.js';
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

function MountView({ mount }: { mount: Mount }) {
  const vm = useInventoryVm(mount.vm);
  return (
    <>
      <BackLink to="/mounts" label="All mounts" />
      <PageHeader
        title={`${vm?.name ?? mount.vm}: ${formatDateTime(mount.backupCreatedAt)}`}
        description={
          <Group gap="xs" component="span" wrap="wrap">
            <MountStateBadge mount={mount} />
            <span>{`${mount.kind === 'iscsi' ? 'iSCSI export' : 'Files'} from ${mount.destination}, on ${mount.node}`}</span>
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
        {mount.overlay && mount.state === 'MOUNTED' && mount.kind === 'browse' && (
          <Text size="xs" c="dimmed">
            Read-only. Filesystem journals were replayed in a scratch overlay, so the backup itself is never written to.
          </Text>
        )}
        {mount.kind === 'iscsi' && mount.iscsi !== null && isActiveMount(mount.state) && <IscsiDetails iscsi={mount.iscsi} />}
        {mount.kind === 'browse' && mount.state === 'MOUNTED' && <FileExplorer mount={mount} />}
      </Stack>
    </>
  );
}
