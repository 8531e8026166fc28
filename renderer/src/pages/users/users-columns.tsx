import type { User } from '@common/api/index.js';
import { Badge, Group, Text, VisuallyHidden } from '@mantine/core';
import { createColumnHelper } from '@tanstack/react-table';
import { formatDateTime } from '../../utils/format.js';
import { NO_SHRINK } from '../../utils/styles.js';
import { ROLE_COLORS } from './role-options.js';
import { UserRowActions, type UserAction } from './user-row-actions.js';

const column = createColumnHelper<User>();

function DateCell({ iso }: { iso: string | null }) {
  return (
    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
      {formatDateTime(iso)}
    </Text>
  );
}

/** Columns need the current user and the action handler, hence a factory rather than a constant. */
export function usersColumns(currentUsername: string, onAction: (action: UserAction, user: User) => void) {
  return [
    column.accessor('username', {
      header: 'Username',
      cell: (info) => (
        <Group gap="xs" wrap="nowrap">
          <Text size="sm" fw={500}>
            {info.getValue()}
          </Text>
          {info.getValue() === currentUsername && (
            <Badge size="xs" variant="outline" style={NO_SHRINK}>
              you
            </Badge>
          )}
        </Group>
      ),
    }),
    column.accessor('role', {
      header: 'Role',
      cell: (info) => (
        <Badge color={ROLE_COLORS[info.getValue()]} variant="light" style={NO_SHRINK}>
          {info.getValue()}
        </Badge>
      ),
    }),
    column.accessor('lastLoginAt', { header: 'Last login', cell: (info) => <DateCell iso={info.getValue()} /> }),
    column.display({
      id: 'actions',
      header: () => <VisuallyHidden>Actions</VisuallyHidden>,
      cell: ({ row }) => (
        <UserRowActions user={row.original} isSelf={row.original.username === currentUsername} onAction={onAction} />
      ),
    }),
  ];
}
