import type { Mount } from '@common/api/index.js';
import { ActionIcon, Box, Group, Loader, Text, Tooltip, UnstyledButton } from '@mantine/core';
import { IconChevronDown, IconChevronRight, IconDatabase, IconFolder, IconFolderOff } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { errorMessage } from '../../api/api-error.js';
import { useMountFilesQuery } from '../../api/mounts.queries.js';
import { joinMountPath, mountPathAncestors, mountRootLabel } from '../../utils/mount-format.js';
import { explorerSearch } from './explorer-path.js';

/** The tree reads the same first page the table shows for a folder sorted by name, so they share it. */
export const EXPLORER_PAGE_SIZE = 500;
const INDENT = 14;

interface TreeContext {
  mountId: number;
  enabled: boolean;
  current: string;
  expanded: ReadonlySet<string>;
  toggle: (path: string) => void;
}

/**
 * Folders only, read lazily: a folder's subfolders are listed when it is expanded. The folder
 * shown in the table and its ancestors are expanded as the person moves around.
 */
export function FolderTree({ mount, current }: { mount: Mount; current: string }) {
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set(mountPathAncestors(current)));
  useEffect(() => {
    setExpanded((old) => {
      const missing = mountPathAncestors(current).filter((path) => !old.has(path));
      return missing.length === 0 ? old : new Set([...old, ...missing]);
    });
  }, [current]);
  const toggle = (path: string) =>
    setExpanded((old) => {
      const next = new Set(old);
      if (!next.delete(path)) next.add(path);
      return next;
    });
  const context: TreeContext = { mountId: mount.id, enabled: mount.state === 'MOUNTED', current, expanded, toggle };

  return (
    <nav aria-label="Folders">
      <Box component="ul" m={0} p={0} style={{ listStyle: 'none' }}>
        <Box component="li">
          <TreeRow context={context} path="" label={mountRootLabel(mount)} depth={0} icon="root" expandable={false} />
        </Box>
        {mount.filesystems.map((filesystem) =>
          filesystem.readable ? (
            <TreeFolder key={filesystem.name} context={context} path={filesystem.name} label={filesystem.name} depth={1} icon="filesystem" />
          ) : (
            <Box component="li" key={filesystem.name} pl={INDENT + 28}>
              <Tooltip label={filesystem.reason ?? 'Cannot be read'} multiline maw={280} withArrow>
                <Group gap={6} wrap="nowrap" c="dimmed" tabIndex={0} aria-label={`${filesystem.name}: ${filesystem.reason ?? 'cannot be read'}`}>
                  <IconFolderOff size={16} aria-hidden />
                  <Text size="sm" c="dimmed" truncate>
                    {filesystem.name}
                  </Text>
                </Group>
              </Tooltip>
            </Box>
          ),
        )}
      </Box>
    </nav>
  );
}

interface TreeRowProps {
  context: TreeContext;
  path: string;
  label: string;
  depth: number;
  icon: 'root' | 'filesystem' | 'folder';
  expandable: boolean;
  loading?: boolean;
}

function TreeRow({ context, path, label, depth, icon, expandable, loading = false }: TreeRowProps) {
  const open = context.expanded.has(path);
  const selected = context.current === path;
  const Icon = icon === 'folder' ? IconFolder : IconDatabase;
  return (
    <Group gap={2} wrap="nowrap" pl={depth * INDENT}>
      {expandable ? (
        <ActionIcon
          variant="subtle"
          color="gray"
          size="sm"
          onClick={() => context.toggle(path)}
          aria-expanded={open}
          aria-label={`${open ? 'Collapse' : 'Expand'} ${label}`}
        >
          {loading ? <Loader size={12} /> : open ? <IconChevronDown size={14} aria-hidden /> : <IconChevronRight size={14} aria-hidden />}
        </ActionIcon>
      ) : (
        <Box w={28} />
      )}
      <UnstyledButton
        component={Link}
        to={{ search: explorerSearch(path) }}
        aria-current={selected ? 'page' : undefined}
        px={6}
        py={2}
        style={{ borderRadius: 4, minWidth: 0, flex: 1, background: selected ? 'var(--mantine-primary-color-light)' : undefined }}
      >
        <Group gap={6} wrap="nowrap">
          <Icon size={16} aria-hidden style={{ flexShrink: 0 }} />
          <Text size="sm" truncate fw={selected ? 600 : undefined} title={label}>
            {label}
          </Text>
        </Group>
      </UnstyledButton>
    </Group>
  );
}

function TreeFolder({ context, path, label, depth, icon }: Omit<TreeRowProps, 'expandable'>) {
  const open = context.expanded.has(path);
  const listing = useMountFilesQuery(context.mountId, { path, offset: 0, limit: EXPLORER_PAGE_SIZE, sort: 'name', order: 'asc' }, open && context.enabled);
  const folders = listing.data?.entries.filter((entry) => entry.type === 'dir') ?? [];
  const more = listing.data === undefined ? 0 : listing.data.total - listing.data.entries.length;
  return (
    <Box component="li">
      <TreeRow context={context} path={path} label={label} depth={depth} icon={icon} expandable loading={open && listing.isFetching && listing.data === undefined} />
      {open && (
        <Box component="ul" m={0} p={0} style={{ listStyle: 'none' }}>
          {listing.isError && (
            <Box component="li" pl={(depth + 1) * INDENT + 28}>
              <Text size="xs" c="red">
                {errorMessage(listing.error)}
              </Text>
            </Box>
          )}
          {folders.map((entry) => (
            <TreeFolder key={entry.name} context={context} path={joinMountPath(path, entry.name)} label={entry.name} depth={depth + 1} icon="folder" />
          ))}
          {more > 0 && (
            <Box component="li" pl={(depth + 1) * INDENT + 28}>
              <Text size="xs" c="dimmed">{`${more} more entries: see the table`}</Text>
            </Box>
          )}
        </Box>
      )}
    </Box>
  );
}
