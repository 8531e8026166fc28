import { IconDatabase } from '@tabler/icons-react';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';

export function DestinationsPage() {
  return (
    <>
      <PageHeader title="Destinations" />
      <EmptyState
        icon={IconDatabase}
        title="No destinations yet"
        description="Destinations are where backups are stored: a local disk, a NAS share or another repository path a node can write to. Backups there are deduplicated, compressed and self-describing."
      />
    </>
  );
}
