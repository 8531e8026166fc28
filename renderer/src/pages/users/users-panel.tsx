import type { User } from '@common/api/index.js';
import { Button, Group, Paper, Skeleton } from '@mantine/core';
import { IconUserPlus } from '@tabler/icons-react';
import { getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import { isApiError } from '../../api/api-error.js';
import { useUsersQuery } from '../../api/users.queries.js';
import { useSession } from '../../auth/session-context.js';
import { DataTable } from '../../components/data-table.js';
import { QueryErrorAlert } from '../../components/query-error-alert.js';
import { AddUserModal } from './add-user-modal.js';
import { AdminOnlyNotice } from './admin-only-notice.js';
import { ChangeRoleModal } from './change-role-modal.js';
import { DeleteUserModal } from './delete-user-modal.js';
import { ResetPasswordModal } from './reset-password-modal.js';
import type { UserAction } from './user-row-actions.js';
import { usersColumns } from './users-columns.js';

type Dialog = { kind: 'add' } | { kind: UserAction; user: User } | null;

/** Settings → Users. Non-admins never see a control they could not use. */
export function UsersPanel() {
  const { user: me, isAdmin } = useSession();
  // No request for other roles: the server would answer 403 anyway.
  const users = useUsersQuery(isAdmin);
  const [dialog, setDialog] = useState<Dialog>(null);
  const close = () => setDialog(null);

  const columns = useMemo(() => usersColumns(me.username, (kind, user) => setDialog({ kind, user })), [me.username]);
  const table = useReactTable({
    data: users.data ?? [],
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (user) => String(user.id),
  });

  // A 403 means our role changed since sign-in; the session refetch will catch up.
  if (!isAdmin || isApiError(users.error, 403)) return <AdminOnlyNotice />;

  return (
    <>
      <Group justify="flex-end" mb="md">
        <Button leftSection={<IconUserPlus size={16} aria-hidden />} onClick={() => setDialog({ kind: 'add' })}>
          Add user
        </Button>
      </Group>
      {users.isPending && <Skeleton h={180} radius="md" />}
      {users.isError && <QueryErrorAlert title="Could not load users" error={users.error} onRetry={() => void users.refetch()} />}
      {users.isSuccess && (
        <Paper withBorder radius="md" p="xs">
          <DataTable table={table} label="Users" />
        </Paper>
      )}
      {dialog?.kind === 'add' && <AddUserModal onClose={close} />}
      {dialog?.kind === 'role' && <ChangeRoleModal user={dialog.user} onClose={close} />}
      {dialog?.kind === 'password' && <ResetPasswordModal user={dialog.user} onClose={close} />}
      {dialog?.kind === 'delete' && <DeleteUserModal user={dialog.user} onClose={close} />}
    </>
  );
}
