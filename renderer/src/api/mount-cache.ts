import type { Mount } from '@common/api/index.js';
import type { QueryClient } from '@tanstack/react-query';
import { queryKeys } from './query-keys.js';

/**
 * A mount from an event or a mutation's answer: its own page is patched in place (a refetch
 * of GET /api/mounts/:id per event could count as a use and push another event); the lists,
 * which filter and sort on the server, are refetched.
 */
export function applyMount(queryClient: QueryClient, mount: Mount): void {
  queryClient.setQueryData<Mount>(queryKeys.mount(mount.id), mount);
  void queryClient.invalidateQueries({ queryKey: queryKeys.mountLists });
  // A closed mount has nothing left to browse: drop what was read, so nothing stale shows.
  if (mount.state === 'CLOSED' || mount.state === 'FAILED') {
    queryClient.removeQueries({ queryKey: queryKeys.mountBrowse(mount.id) });
  }
}
