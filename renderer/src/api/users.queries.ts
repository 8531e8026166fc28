import { UserListSchema, UserSchema, type CreateUser, type Role } from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApiClient } from './api-client-context.js';
import { queryKeys } from './query-keys.js';

const userPath = (username: string): string => `/api/users/${encodeURIComponent(username)}`;

/** Admin-only on the server; callers pass enabled=false for other roles to skip a certain 403. */
export function useUsersQuery(enabled: boolean) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.users,
    queryFn: ({ signal }) => api.json('GET', '/api/users', UserListSchema, { signal }),
    enabled,
  });
}

/**
 * Mutations invalidate the list themselves: the 'users.changed' event does it too, but the
 * WebSocket may be reconnecting at that moment.
 */
function useInvalidateUsers() {
  const queryClient = useQueryClient();
  return async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: queryKeys.users }),
      queryClient.invalidateQueries({ queryKey: queryKeys.status }),
    ]);
  };
}

export function useCreateUserMutation() {
  const api = useApiClient();
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: (user: CreateUser) => api.json('POST', '/api/users', UserSchema, { body: user }),
    onSuccess: invalidate,
    meta: { inlineErrors: true },
  });
}

export interface UpdateUserVariables {
  username: string;
  role?: Role;
  password?: string;
}

export function useUpdateUserMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: ({ username, ...change }: UpdateUserVariables) =>
      api.json('PATCH', userPath(username), UserSchema, { body: change }),
    onSuccess: async () => {
      // Changing one's own role changes what this UI may show.
      await Promise.all([invalidate(), queryClient.invalidateQueries({ queryKey: queryKeys.me })]);
    },
    meta: { inlineErrors: true },
  });
}

export function useDeleteUserMutation() {
  const api = useApiClient();
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: (username: string) => api.empty('DELETE', userPath(username)),
    onSuccess: invalidate,
    // The dialog shows a refusal (the last administrator, …) inside it.
    meta: { inlineErrors: true },
  });
}
