import type { BrowseEntry, BrowseSearchHit, Mount } from '@common/api/index.js';
import { Grid, Paper, ScrollArea, Stack } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useState } from 'react';
import { useApiClient } from '../../api/api-client-context.js';
import { mountStatOptions } from '../../api/mounts.queries.js';
import { parentMountPath, previewKind } from '../../utils/mount-format.js';
import { BrowseErrorAlert } from './browse-error.js';
import { useExplorerPath } from './explorer-path.js';
import { FilePreview, type PreviewTarget } from './file-preview.js';
import { FileSearch } from './file-search.js';
import { FileTable } from './file-table.js';
import { FilesystemTable } from './filesystem-table.js';
import { FolderTree } from './folder-tree.js';
import { MountBreadcrumbs } from './mount-breadcrumbs.js';

/** Folder tree on the left; on the right the path, a search, and the folder's entries (or the filesystems at the root). */
export function FileExplorer({ mount }: { mount: Mount }) {
  const api = useApiClient();
  const queryClient = useQueryClient();
  const [path, go] = useExplorerPath();
  const [preview, setPreview] = useState<PreviewTarget | null>(null);
  const [linkError, setLinkError] = useState<unknown>(null);
  useEffect(() => setLinkError(null), [path]);

  const onPreview = useCallback((target: string, entry: BrowseEntry) => setPreview({ path: target, entry }), []);

  // Where a symlink leads is known only by asking: a folder opens, a file's folder opens with its preview.
  const onFollowLink = useCallback(
    (target: string) => {
      setLinkError(null);
      queryClient.fetchQuery(mountStatOptions(api, mount.id, target)).then(
        (hit) => {
          if (hit.type === 'dir') return go(target);
          go(parentMountPath(target));
          if (hit.type === 'file' && previewKind(hit.name) !== null) setPreview({ path: target, entry: hit });
        },
        (error: unknown) => setLinkError(error),
      );
    },
    [api, queryClient, mount.id, go],
  );

  const onOpenHit = useCallback((hitPath: string, hit: BrowseSearchHit) => go(hit.type === 'dir' ? hitPath : parentMountPath(hitPath)), [go]);

  return (
    <>
      <Grid gap="md">
        <Grid.Col span={{ base: 12, md: 4, lg: 3 }}>
          <Paper withBorder radius="md" p="xs">
            <ScrollArea.Autosize mah="75vh" type="auto">
              <FolderTree mount={mount} current={path} />
            </ScrollArea.Autosize>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8, lg: 9 }}>
          <Paper withBorder radius="md" p="md" component="section" aria-label="Files">
            <Stack gap="sm">
              <MountBreadcrumbs path={path} />
              <FileSearch mount={mount} path={path} onOpen={onOpenHit} />
              {linkError !== null && <BrowseErrorAlert error={linkError} />}
              {path === '' ? (
                <FilesystemTable mount={mount} />
              ) : (
                <FileTable key={path} mount={mount} path={path} onPreview={onPreview} onFollowLink={onFollowLink} />
              )}
            </Stack>
          </Paper>
        </Grid.Col>
      </Grid>
      <FilePreview mountId={mount.id} target={preview} onClose={() => setPreview(null)} />
    </>
  );
}
