import { IconArchive } from '@tabler/icons-react';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';

export function BackupsPage() {
  return (
    <>
      <PageHeader title="Backups" />
      <EmptyState
        icon={IconArchive}
        title="No backups yet"
        description="Every completed backup, full or incremental, is listed here with its VM, destination and size. From here you can restore a VM, restore it to a hypervisor or mount it to browse files."
      />
    </>
  );
}
