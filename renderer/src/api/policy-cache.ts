import type { Policy, PolicyRun, PolicyRunPage } from '@common/api/index.js';
import type { QueryClient } from '@tanstack/react-query';
import { queryKeys } from './query-keys.js';

/**
 * A run written into one cached page (newest first, as the server sends them). The first page
 * takes a new run and keeps `limit` rows (the row it pushes off starts the next page); a later
 * page only updates the runs it shows, as a new run is never on it.
 */
export function upsertRunInPage(page: PolicyRunPage, run: PolicyRun, limit: number, first: boolean): PolicyRunPage {
  const shown = page.runs.some((candidate) => candidate.id === run.id);
  if (!shown && !first) return page;
  const sorted = [...page.runs.filter((candidate) => candidate.id !== run.id), run].sort((a, b) => b.id - a.id);
  const runs = sorted.slice(0, limit);
  return { runs, nextCursor: sorted.length > limit ? String(runs.at(-1)!.id) : page.nextCursor };
}

/** Writes a run (from an event or a "run now" answer) into the open runs pages of its policy. */
export function upsertPolicyRun(queryClient: QueryClient, run: PolicyRun): void {
  for (const [key, page] of queryClient.getQueriesData<PolicyRunPage>({ queryKey: queryKeys.policyRunLists })) {
    const [, , policyId, limit, cursor] = key as ReturnType<typeof queryKeys.policyRuns>;
    if (page === undefined || policyId !== run.policyId) continue;
    queryClient.setQueryData<PolicyRunPage>(key, upsertRunInPage(page, run, limit, cursor === undefined));
  }
}

/**
 * A run changed state. The runs lists are patched in place; the policies refetch, because a
 * run does not say whether it was a backup run (their "last run") or a retention run.
 */
export function applyPolicyRun(queryClient: QueryClient, run: PolicyRun): void {
  upsertPolicyRun(queryClient, run);
  void queryClient.invalidateQueries({ queryKey: queryKeys.policyList });
  void queryClient.invalidateQueries({ queryKey: queryKeys.policyDetails });
  void queryClient.invalidateQueries({ queryKey: queryKeys.dashboard });
}

/**
 * A policy was created, changed or removed, or VMs moved between policies: everything that
 * shows policies refetches, and so do VMs, whose "policy" may have changed with it.
 */
export function invalidatePolicies(queryClient: QueryClient): void {
  void queryClient.invalidateQueries({ queryKey: queryKeys.policies });
  void queryClient.invalidateQueries({ queryKey: queryKeys.dashboard });
  void queryClient.invalidateQueries({ queryKey: queryKeys.vms });
}

/** Writes a policy from a mutation answer into the list and an open details page. */
export function upsertPolicy(queryClient: QueryClient, policy: Policy): void {
  queryClient.setQueryData<Policy[]>(queryKeys.policyList, (old) =>
    old === undefined ? old : [...old.filter((candidate) => candidate.id !== policy.id), policy],
  );
  queryClient.setQueriesData<Policy>({ queryKey: queryKeys.policyDetails }, (old) => (old?.id === policy.id ? policy : old));
}

export function removePolicy(queryClient: QueryClient, policyId: number): void {
  queryClient.setQueryData<Policy[]>(queryKeys.policyList, (old) => old?.filter((policy) => policy.id !== policyId));
  queryClient.removeQueries({ queryKey: queryKeys.policyDetails, predicate: (query) => (query.state.data as Policy | undefined)?.id === policyId });
}
