import {
  LoginResponseSchema,
  MeResponseSchema,
  type LoginResponse,
  type Setup,
  type User,
} from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useApiClient } from './api-client-context.js';
import { isApiError } from './api-error.js';
import { queryKeys } from './query-keys.js';

/** The signed-in user, or null when there is no session (401 is an answer here, not an error). */
export function useMeQuery() {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.me,
    queryFn: async ({ signal }): Promise<User | null> => {
      try {
        const me = await api.json('GET', '/api/auth/me', MeResponseSchema, { signal, expectUnauthorized: true });
        return me.user;
      } catch (error) {
        if (isApiError(error, 401)) return null;
        throw error;
      }
    },
    staleTime: 60_000,
  });
}

/** Why the last session ended: only an expired one is worth returning to the same page for. */
export type SessionEnd = 'signed-out' | 'expired';

/**
 * Records who is signed in now and drops everything cached for the previous user (health is
 * public and stays). The session query itself is updated, not removed: its mounted observer
 * would keep watching the removed entry and never see the change.
 */
function replaceSession(queryClient: QueryClient, user: User | null, end: SessionEnd | null): void {
  queryClient.setQueryData<SessionEnd | null>(queryKeys.sessionEnd, end);
  queryClient.setQueryData<User | null>(queryKeys.me, user);
  const kept = new Set<unknown>([queryKeys.health[0], queryKeys.me[0]]);
  queryClient.removeQueries({ predicate: (query) => !kept.has(query.queryKey[0]) });
}

export function endSession(queryClient: QueryClient, end: SessionEnd): void {
  replaceSession(queryClient, null, end);
}

function startSession(queryClient: QueryClient, response: LoginResponse): void {
  replaceSession(queryClient, response.user, null);
}

/**
 * Read at the render that sees the session gone. A marker in the cache, not router state:
 * the router applies navigations as transitions, so a navigate() from the sign-out handler
 * can land after the guard has already redirected.
 */
export function useSessionEnd(): SessionEnd | null {
  return useQueryClient().getQueryData<SessionEnd | null>(queryKeys.sessionEnd) ?? null;
}

export interface Credentials {
  username: string;
  password: string;
}

export function useLoginMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (credentials: Credentials) =>
      api.json('POST', '/api/auth/login', LoginResponseSchema, { body: credentials, expectUnauthorized: true }),
    onSuccess: (response) => startSession(queryClient, response),
    // Wrong password and throttling are shown inline on the sign-in form.
    meta: { inlineErrors: true },
  });
}

export function useSetupMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (setup: Setup) => api.json('POST', '/api/setup', LoginResponseSchema, { body: setup }),
    onSuccess: async (response) => {
      startSession(queryClient, response);
      await queryClient.invalidateQueries({ queryKey: queryKeys.health });
    },
    // Someone may have finished setup in another window; fresh health sends this one to sign-in.
    onError: () => queryClient.invalidateQueries({ queryKey: queryKeys.health }),
    meta: { inlineErrors: true },
  });
}

export function useLogoutMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async () => {
      try {
        await api.empty('POST', '/api/auth/logout', { expectUnauthorized: true });
      } catch (error) {
        // Already signed out (session expired meanwhile): that is what the user asked for.
        if (!isApiError(error, 401)) throw error;
      }
    },
    onSuccess: () => endSession(queryClient, 'signed-out'),
    meta: { errorTitle: 'Could not sign out' },
  });
}
