import type { Destination } from '@common/api/index.js';
import type { QueryClient } from '@tanstack/react-query';
import { queryKeys } from './query-keys.js';

/** The list is sorted by name, as the server sends it. */
export function upsertDestinationInList(destinations: readonly Destination[], destination: Destination): Destination[] {
  const others = destinations.filter((candidate) => candidate.id !== destination.id);
  return [...others, destination].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Writes a destination from an event or a mutation answer into every cache that shows it. */
export function upsertDestination(queryClient: QueryClient, destination: Destination): void {
  queryClient.setQueryData<Destination[]>(queryKeys.destinationList, (old) =>
    old === undefined ? old : upsertDestinationInList(old, destination),
  );
  queryClient.setQueriesData<Destination>({ queryKey: queryKeys.destinationDetails }, (old) =>
    old?.id === destination.id ? destination : old,
  );
  // Every destination task adds a usage point; only an open chart refetches.
  void queryClient.invalidateQueries({ queryKey: queryKeys.destinationUsage(destination.id) });
}

export function removeDestination(queryClient: QueryClient, destinationId: number): void {
  queryClient.setQueryData<Destination[]>(queryKeys.destinationList, (old) => old?.filter((destination) => destination.id !== destinationId));
  // An open details page refetches and shows that the destination is gone.
  void queryClient.invalidateQueries({
    queryKey: queryKeys.destinationDetails,
    predicate: (query) => (query.state.data as Destination | undefined)?.id === destinationId,
  });
  queryClient.removeQueries({ queryKey: queryKeys.destinationUsage(destinationId) });
  // Its backups leave the catalog with it (a forced removal).
  invalidateBackups(queryClient);
}

/**
 * Lists are filtered by destination id or name, which an event's id alone cannot always match,
 * so every cached list refetches (only the ones on screen do so now).
 */
export function invalidateBackups(queryClient: QueryClient): void {
  void queryClient.invalidateQueries({ queryKey: queryKeys.backupLists });
}
