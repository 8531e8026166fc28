import { ActionIcon, Box, Group, Loader, Text, UnstyledButton } from '@mantine/core';
import { IconChevronDown, IconChevronRight, IconFolder, IconInbox } from '@tabler/icons-react';
import { useState, type ComponentType } from 'react';
import { errorMessage } from '../../api/api-error.js';
import { useMountFilesQuery } from '../../api/mounts.queries.js';
import { joinMountPath, mountPathAncestors } from '../../utils/mount-format.js';
import { EXPLORER_PAGE_SIZE } from '../mounts/folder-tree.js';

const INDENT = 14;

interface TreeContext {
  mountId: number;
  enabled: boolean;
  current: string;
  expanded: ReadonlySet<string>;
  toggle: (path: string) => void;
  onSelect: (path: string) => void;
}

interface ExchangeFolderTreeProps {
  mountId: number;
  enabled: boolean;
  /** The part's folder ("mail", "calendar", "contacts"): the tree's top. */
  root: string;
  rootLabel: string;
  /** Names the tree for assistive technology: "Mail folders". */
  label: string;
  current: string;
  onSelect: (path: string) => void;
}

/**
 * The folders of an Exchange part (mail folders, calendars, contact folders) as the mount lists
 * them, read lazily: a folder's subfolders are listed when it is expanded. Choosing one shows
 * its items beside the tree.
 */
export function ExchangeFolderTree({ mountId, enabled, root, rootLabel, label, current, onSelect }: ExchangeFolderTreeProps) {
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set(mountPathAncestors(current).filter((path) => path !== '')));
  const toggle = (path: string) =>
    setExpanded((old) => {
      const next = new Set(old);
      if (!next.delete(path)) next.add(path);
      return next;
    });
  const context: TreeContext = { mountId, enabled, current, expanded, toggle, onSelect };
  return (
    <nav aria-label={label}>
      <Box component="ul" m={0} p={0} style={{ listStyle: 'none' }}>
        <TreeFolder context={context} path={root} label={rootLabel} depth={0} icon={IconInbox} />
      </Box>
    </nav>
  );
}

function TreeFolder({ context, path, label, depth, icon: Icon }: { context: TreeContext; path: string; label: string; depth: number; icon: ComponentType<{ size?: number; 'aria-hidden'?: boolean; style?: object }> }) {
  const open = context.expanded.has(path);
  const listing = useMountFilesQuery(context.mountId, { path, offset: 0, limit: EXPLORER_PAGE_SIZE, sort: 'name', order: 'asc' }, open && context.enabled);
  const folders = listing.data?.entries.filter((entry) => entry.type === 'dir') ?? [];
  const selected = context.current === path;
  // Known to have no subfolders once listed: no chevron to click for nothing.
  const leaf = listing.data !== undefined && folders.length === 0;
  return (
    <Box component="li">
      <Group gap={2} wrap="nowrap" pl={depth * INDENT}>
        {leaf ? (
          <Box w={28} />
        ) : (
          <ActionIcon variant="subtle" color="gray" size="sm" onClick={() => context.toggle(path)} aria-expanded={open} aria-label={`${open ? 'Collapse' : 'Expand'} ${label}`}>
            {open && listing.isFetching && listing.data === undefined ? <Loader size={12} /> : open ? <IconChevronDown size={14} aria-hidden /> : <IconChevronRight size={14} aria-hidden />}
          </ActionIcon>
        )}
        <UnstyledButton
          onClick={() => context.onSelect(path)}
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
      {open && (
        <Box component="ul" m={0} p={0} style={{ listStyle: 'none' }}>
          {listing.isError && (
            <Box component="li" pl={(depth + 1) * INDENT + 28}>
              <Text size="xs" c="red" role="alert">
                {errorMessage(listing.error)}
              </Text>
            </Box>
          )}
          {folders.map((entry) => (
            <TreeFolder key={entry.name} context={context} path={joinMountPath(path, entry.name)} label={entry.name} depth={depth + 1} icon={IconFolder} />
          ))}
        </Box>
      )}
    </Box>
  );
}
