import { Button } from '@mantine/core';
import { IconMapOff } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { BackLink } from './back-link.js';
import { EmptyState } from './empty-state.js';
import { PageHeader } from './page-header.js';

interface NotFoundStateProps {
  /** e.g. "Policy not found". */
  pageTitle: string;
  /** e.g. 'There is no policy "nightly"'. */
  title: string;
  description: string;
  back?: { to: string; label: string };
  /** The way out, as a button: the list the item would be in. */
  goTo: { to: string; label: string };
}

/** A page whose address names nothing (a deleted item, a wrong link), with the way back. */
export function NotFoundState({ pageTitle, title, description, back, goTo }: NotFoundStateProps) {
  return (
    <>
      {back !== undefined && <BackLink to={back.to} label={back.label} />}
      <PageHeader title={pageTitle} />
      <EmptyState
        icon={IconMapOff}
        title={title}
        description={description}
        actions={
          <Button component={Link} to={goTo.to} variant="default">
            {goTo.label}
          </Button>
        }
      />
    </>
  );
}
