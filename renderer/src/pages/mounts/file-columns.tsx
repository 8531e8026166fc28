import type { BrowseEntry, BrowseSort } from '@common/api/index.js';
import { ActionIcon, Anchor, Checkbox, Group, Text, Tooltip, UnstyledButton, VisuallyHidden } from '@mantine/core';
import { IconArrowDown, IconArrowUp, IconArrowsSort, IconDownload, IconEye, IconFile, IconFileText, IconFolder, IconLink, IconPhoto } from '@tabler/icons-react';
import { createColumnHelper, type Column } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { PathText } from '../../components/path-text.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { formatMode, formatOwner, joinMountPath, mountContentUrl, previewKind, resolveSymlink } from '../../utils/mount-format.js';
import { explorerSearch } from './explorer-path.js';

const column = createColumnHelper<BrowseEntry>();
const nowrap = { whiteSpace: 'nowrap' } as const;
const wrapName = { overflowWrap: 'anywhere', wordBreak: 'break-word' } as const;

export interface FileColumnsContext {
  mountId: number;
  /** The folder listed. */
  dir: string;
  onPreview: (path: string, entry: BrowseEntry) => void;
  /** A symlink that stays inside its filesystem, resolved to a path in the mount. */
  onFollowLink: (target: string) => void;
}

function SortHeader({ column: col, label }: { column: Column<BrowseEntry>; label: string }) {
  const sorted = col.getIsSorted();
  const Icon = sorted === 'asc' ? IconArrowUp : sorted === 'desc' ? IconArrowDown : IconArrowsSort;
  return (
    <UnstyledButton onClick={col.getToggleSortingHandler()} aria-label={`Sort by ${label.toLowerCase()}`} aria-pressed={sorted !== false}>
      <Group gap={4} wrap="nowrap">
        <Text size="sm" fw={700}>
          {label}
        </Text>
        <Icon size={14} aria-hidden style={{ opacity: sorted === false ? 0.4 : 1 }} />
      </Group>
    </UnstyledButton>
  );
}

function EntryIcon({ entry }: { entry: BrowseEntry }) {
  const props = { size: 16, 'aria-hidden': true, style: { flexShrink: 0 } } as const;
  if (entry.type === 'dir') return <IconFolder {...props} color="var(--mantine-color-yellow-7)" />;
  if (entry.type === 'symlink') return <IconLink {...props} />;
  const kind = entry.type === 'file' ? previewKind(entry.name) : null;
  if (kind?.kind === 'image') return <IconPhoto {...props} />;
  if (kind?.kind === 'text') return <IconFileText {...props} />;
  return <IconFile {...props} color={entry.type === 'other' ? 'var(--mantine-color-dimmed)' : undefined} />;
}

function NameCell({ entry, context }: { entry: BrowseEntry; context: FileColumnsContext }) {
  const path = joinMountPath(context.dir, entry.name);
  let name;
  if (entry.type === 'dir') {
    name = (
      <Anchor component={Link} to={{ search: explorerSearch(path) }} size="sm" style={wrapName}>
        {entry.name}
      </Anchor>
    );
  } else if (entry.type === 'file' && previewKind(entry.name) !== null) {
    name = (
      <Anchor component="button" type="button" size="sm" onClick={() => context.onPreview(path, entry)} style={{ ...wrapName, textAlign: 'left' }}>
        {entry.name}
      </Anchor>
    );
  } else if (entry.type === 'symlink') {
    const target = entry.target === undefined ? null : resolveSymlink(path, entry.target);
    name =
      target === null ? (
        <Tooltip label="Points outside its filesystem: shown, not followed" withArrow>
          <Text size="sm" style={wrapName} tabIndex={0}>
            {entry.name}
          </Text>
        </Tooltip>
      ) : (
        <Anchor component="button" type="button" size="sm" onClick={() => context.onFollowLink(target)} style={{ ...wrapName, textAlign: 'left' }}>
          {entry.name}
        </Anchor>
      );
  } else {
    name = (
      <Text size="sm" style={wrapName} c={entry.type === 'other' ? 'dimmed' : undefined}>
        {entry.name}
      </Text>
    );
  }
  return (
    <Group gap={6} wrap="nowrap" align="flex-start">
      <EntryIcon entry={entry} />
      <div style={{ minWidth: 0 }}>
        {name}
        {entry.type === 'symlink' && entry.target !== undefined && (
          <Text size="xs" c="dimmed" ff="monospace">
            {/* One text with its arrow, as before: the row of a link is not found by its target's name. */}
            <PathText path={`→ ${entry.target}`} />
          </Text>
        )}
      </div>
    </Group>
  );
}

function RowActions({ entry, context }: { entry: BrowseEntry; context: FileColumnsContext }) {
  if (entry.type !== 'file') return null;
  const path = joinMountPath(context.dir, entry.name);
  return (
    <Group gap={2} wrap="nowrap" justify="flex-end">
      {previewKind(entry.name) !== null && (
        <Tooltip label="Preview">
          <ActionIcon variant="subtle" color="gray" onClick={() => context.onPreview(path, entry)} aria-label={`Preview ${entry.name}`}>
            <IconEye size={16} aria-hidden />
          </ActionIcon>
        </Tooltip>
      )}
      <Tooltip label="Download">
        <ActionIcon component="a" href={mountContentUrl(context.mountId, path, true)} download variant="subtle" color="gray" aria-label={`Download ${entry.name}`}>
          <IconDownload size={16} aria-hidden />
        </ActionIcon>
      </Tooltip>
    </Group>
  );
}

/** Name, size, modified, owner and mode; the sortable ones sort on the server. */
export function fileColumns(context: FileColumnsContext) {
  return [
    column.display({
      id: 'select',
      header: ({ table }) => (
        <Checkbox
          aria-label="Select all on this page"
          checked={table.getIsAllPageRowsSelected()}
          indeterminate={table.getIsSomePageRowsSelected()}
          onChange={table.getToggleAllPageRowsSelectedHandler()}
        />
      ),
      cell: ({ row }) => (
        <Checkbox aria-label={`Select ${row.original.name}`} checked={row.getIsSelected()} onChange={row.getToggleSelectedHandler()} />
      ),
    }),
    column.accessor('name', {
      id: 'name' satisfies BrowseSort,
      header: ({ column: col }) => <SortHeader column={col} label="Name" />,
      cell: ({ row }) => <NameCell entry={row.original} context={context} />,
    }),
    column.accessor('size', {
      id: 'size' satisfies BrowseSort,
      header: ({ column: col }) => <SortHeader column={col} label="Size" />,
      cell: ({ row }) => (
        <Text size="sm" style={nowrap} c={row.original.type === 'file' ? undefined : 'dimmed'}>
          {row.original.type === 'file' ? formatBytes(row.original.size) : '—'}
        </Text>
      ),
    }),
    column.accessor('mtime', {
      id: 'mtime' satisfies BrowseSort,
      header: ({ column: col }) => <SortHeader column={col} label="Modified" />,
      cell: (info) => (
        <Text size="sm" style={nowrap}>
          {formatDateTime(info.getValue())}
        </Text>
      ),
    }),
    column.display({
      id: 'owner',
      header: 'Owner',
      cell: ({ row }) => (
        <Text size="sm" style={nowrap} title={`uid ${row.original.uid}, gid ${row.original.gid}`}>
          {formatOwner(row.original)}
        </Text>
      ),
    }),
    column.accessor('mode', {
      header: 'Mode',
      enableSorting: false,
      cell: ({ row }) => (
        <Text size="sm" ff="monospace" style={nowrap} title={`0${row.original.mode.toString(8)}`}>
          {formatMode(row.original.type, row.original.mode)}
        </Text>
      ),
    }),
    column.display({
      id: 'actions',
      header: () => <VisuallyHidden>Actions</VisuallyHidden>,
      cell: ({ row }) => <RowActions entry={row.original} context={context} />,
    }),
  ];
}
