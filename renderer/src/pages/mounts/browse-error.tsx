import { Alert, Anchor } from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { errorMessage, isApiError } from '../../api/api-error.js';
import { parentMountPath } from '../../utils/mount-format.js';
import { explorerSearch } from './explorer-path.js';

/** What a refused read means to the person, by the API's status and code. */
export function browseErrorTitle(error: unknown): string {
  if (!isApiError(error)) return 'Could not read the backup';
  if (error.code === 'PATH_ESCAPE') return 'Refused: that path leads out of the filesystem';
  if (error.code === 'SYMLINK_LOOP') return 'Too many symlinks';
  if (error.code === 'NOT_A_DIRECTORY') return 'Not a folder';
  if (error.status === 404) return 'Not in this backup';
  if (error.status === 403) return 'Your role may not browse backups';
  if (error.status === 409) return 'The mount is not open';
  return 'Could not read the backup';
}

/** A refused read, shown where the person acted; with the way up when the folder is not there. */
export function BrowseErrorAlert({ error, path, children }: { error: unknown; path?: string; children?: ReactNode }) {
  // Not found: its parent may well be there. Refused: only the top is sure to be.
  const up = path === undefined || path === '' || !isApiError(error) ? null : error.status === 404 ? parentMountPath(path) : error.code === 'PATH_ESCAPE' ? '' : null;
  return (
    <Alert color="red" icon={<IconAlertCircle />} title={browseErrorTitle(error)} role="alert" data-testid="browse-error">
      <span style={{ overflowWrap: 'anywhere' }}>{errorMessage(error)}</span>
      {up !== null && (
        <>
          {' '}
          <Anchor component={Link} to={{ search: explorerSearch(up) }} size="sm">
            {up === '' ? 'Back to the filesystems' : 'Go up a folder'}
          </Anchor>
        </>
      )}
      {children}
    </Alert>
  );
}
