import type { User } from '@common/api/index.js';
import { Button, Group } from '@mantine/core';
import { IconKey, IconTrash, IconUserCog } from '@tabler/icons-react';

export type UserAction = 'role' | 'password' | 'delete';

interface UserRowActionsProps {
  user: User;
  isSelf: boolean;
  onAction: (action: UserAction, user: User) => void;
}

/** Visible buttons rather than a kebab menu: three actions fit, and each is one click away. */
export function UserRowActions({ user, isSelf, onAction }: UserRowActionsProps) {
  return (
    <Group gap={4} wrap="nowrap" justify="flex-end">
      <Button
        size="compact-sm"
        variant="subtle"
        leftSection={<IconUserCog size={14} aria-hidden />}
        aria-label={`Change role of ${user.username}`}
        onClick={() => onAction('role', user)}
      >
        Change role
      </Button>
      <Button
        size="compact-sm"
        variant="subtle"
        leftSection={<IconKey size={14} aria-hidden />}
        aria-label={`Reset password of ${user.username}`}
        onClick={() => onAction('password', user)}
      >
        Reset password
      </Button>
      <Button
        size="compact-sm"
        variant="subtle"
        color="red"
        leftSection={<IconTrash size={14} aria-hidden />}
        aria-label={`Delete ${user.username}`}
        // Deleting oneself would end this session mid-click; another admin has to do it.
        disabled={isSelf}
        title={isSelf ? 'You cannot delete your own account' : undefined}
        onClick={() => onAction('delete', user)}
      >
        Delete
      </Button>
    </Group>
  );
}
