import type { M365Site, M365User } from '@common/api/index.js';
import { Anchor, Badge, Group, Text } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';

/** A removed user or site stays listed (its backups keep an owner), marked so. */
function Removed({ present }: { present: boolean }) {
  return present ? null : (
    <Badge size="xs" color="gray" variant="outline" component="span">
      Removed
    </Badge>
  );
}

const user = createColumnHelper<M365User>();

export const userColumns = [
  user.accessor('upn', {
    header: 'User principal name',
    cell: ({ row }) => (
      <Group gap={6} wrap="nowrap">
        <Text size="sm" style={{ overflowWrap: 'anywhere' }} c={row.original.present ? undefined : 'dimmed'}>
          {row.original.upn}
        </Text>
        <Removed present={row.original.present} />
      </Group>
    ),
  }),
  user.accessor('displayName', { header: 'Name' }),
  user.accessor('hasDrive', {
    header: 'OneDrive',
    cell: (info) =>
      info.getValue() ? (
        <Text size="sm">Yes</Text>
      ) : (
        <Text size="sm" c="dimmed">
          None
        </Text>
      ),
  }),
];

const site = createColumnHelper<M365Site>();

export const siteColumns = [
  site.accessor('displayName', {
    header: 'Site',
    cell: ({ row }) => (
      <Group gap={6} wrap="nowrap">
        <Text size="sm" fw={500} c={row.original.present ? undefined : 'dimmed'}>
          {row.original.displayName || row.original.name || '(root site)'}
        </Text>
        <Removed present={row.original.present} />
      </Group>
    ),
  }),
  site.accessor('url', {
    header: 'URL',
    cell: (info) => {
      const url = info.getValue();
      return url === null ? (
        <Text size="sm" c="dimmed">
          —
        </Text>
      ) : (
        <Anchor href={url} target="_blank" rel="noreferrer" size="sm" style={{ overflowWrap: 'anywhere' }}>
          {url}
        </Anchor>
      );
    },
  }),
  site.display({
    id: 'libraries',
    header: 'Document libraries',
    cell: ({ row }) => (
      <Group gap={4}>
        {row.original.libraries.map((library) => (
          <Badge key={library.id} variant={library.present ? 'light' : 'outline'} color={library.present ? 'blue' : 'gray'} component="span" tt="none">
            {library.name}
          </Badge>
        ))}
      </Group>
    ),
  }),
];
