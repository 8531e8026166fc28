import type { BrowseEntry, BrowseSearchHit, M365Backup, Mount } from '@common/api/index.js';
import { Grid, Paper, ScrollArea, Stack } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useApiClient } from '../../api/api-client-context.js';
import { useM365BackupQuery } from '../../api/m365.queries.js';
import { mountStatOptions } from '../../api/mounts.queries.js';
import { isM365Mount, mountRootLabel, parentMountPath, previewKind } from '../../utils/mount-format.js';
import { BrowseErrorAlert } from './browse-error.js';
import { DriveTable } from './drive-table.js';
import { useExplorerPath } from './explorer-path.js';
import { FilePreview, type PreviewTarget } from './file-preview.js';
import { FileSearch } from './file-search.js';
import { FileTable } from './file-table.js';
import { FilesystemTable } from './filesystem-table.js';
import { FolderTree } from './folder-tree.js';
import { MountBreadcrumbs } from './mount-breadcrumbs.js';

/**
 * A Microsoft 365 backup's drives are its mount's folders; should the node not list them as
 * filesystems, the backup's parts name them, so the tree and a search from the root still work.
 */
export function withM365Drives(mount: Mount, backup: M365Backup | undefined): Mount {
  if (!isM365Mount(mount) || mount.filesystems.length > 0 || backup === undefined) return mount;
  return { ...mount, filesystems: backup.parts.map((part) => ({ name: part.name, disk: part.name, kind: 'drive', type: null, size: part.bytes, readable: true })) };
}

/** Folder tree on the left; on the right the path, a search, and the folder's entries (or the filesystems, or drives, at the root). */
export function FileExplorer({ mount: given }: { mount: Mount }) {
  const m365 = useM365BackupQuery(given.m365BackupId);
  const mount = useMemo(() => withM365Drives(given, m365.data), [given, m365.data]);
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
              <MountBreadcrumbs path={path} rootLabel={mountRootLabel(mount)} />
              <FileSearch mount={mount} path={path} onOpen={onOpenHit} />
              {linkError !== null && <BrowseErrorAlert error={linkError} />}
              {path === '' ? (
                isM365Mount(mount) ? (
                  <DriveTable mount={mount} backup={m365.data} />
                ) : (
                  <FilesystemTable mount={mount} />
                )
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
