import { IconDeviceDesktop } from '@tabler/icons-react';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';

export function VirtualMachinesPage() {
  return (
    <>
      <PageHeader title="Virtual machines" />
      <EmptyState
        icon={IconDeviceDesktop}
        title="No virtual machines yet"
        description="Virtual machines are discovered from the hypervisors your nodes serve. After a node is enrolled, its VMs are listed here with their disks, protecting policy and last backup."
      />
    </>
  );
}
