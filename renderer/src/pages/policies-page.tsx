import { IconCalendarTime } from '@tabler/icons-react';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';

export function PoliciesPage() {
  return (
    <>
      <PageHeader title="Policies" />
      <EmptyState
        icon={IconCalendarTime}
        title="No policies yet"
        description="Policies decide which virtual machines are backed up, when, to which destination and how long backups are kept. Create one after adding a destination."
      />
    </>
  );
}
