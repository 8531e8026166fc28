import { Button } from '@mantine/core';
import { IconMapOff } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { EmptyState } from '../components/empty-state.js';
import { PageHeader } from '../components/page-header.js';

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" />
      <EmptyState
        icon={IconMapOff}
        title="There is nothing at this address"
        description="The link may be out of date. Use the navigation on the left, or go back to the dashboard."
        actions={
          <Button component={Link} to="/" variant="default">
            Go to the dashboard
          </Button>
        }
      />
    </>
  );
}
