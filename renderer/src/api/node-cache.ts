import type { Node } from '@common/api/index.js';
import type { QueryClient } from '@tanstack/react-query';
import { queryKeys } from './query-keys.js';

/** List and details, not logs: a log is read over SSH and only on request. */
export function invalidateNodes(queryClient: QueryClient): void {
  void queryClient.invalidateQueries({ queryKey: queryKeys.nodeList });
  void queryClient.invalidateQueries({ queryKey: queryKeys.nodeDetails });
}

/** The list is sorted by name, as the server sends it. */
export function upsertNodeInList(nodes: readonly Node[], node: Node): Node[] {
  const others = nodes.filter((candidate) => candidate.id !== node.id);
  return [...others, node].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function upsertNode(queryClient: QueryClient, node: Node): void {
  const before = queryClient.getQueryData<Node[]>(queryKeys.nodeList)?.find((candidate) => candidate.id === node.id);
  queryClient.setQueryData<Node[]>(queryKeys.nodeList, (old) => (old === undefined ? old : upsertNodeInList(old, node)));
  queryClient.setQueriesData<Node>({ queryKey: queryKeys.nodeDetails }, (old) => (old?.id === node.id ? node : old));
  // The dashboard counts nodes online.
  if (before?.status !== node.status) void queryClient.invalidateQueries({ queryKey: queryKeys.status });
}

export function removeNode(queryClient: QueryClient, nodeId: number): void {
  queryClient.setQueryData<Node[]>(queryKeys.nodeList, (old) => old?.filter((node) => node.id !== nodeId));
  // An open details page refetches and shows that the node is gone.
  void queryClient.invalidateQueries({
    queryKey: queryKeys.nodeDetails,
    predicate: (query) => (query.state.data as Node | undefined)?.id === nodeId,
  });
  void queryClient.invalidateQueries({ queryKey: queryKeys.status });
}
