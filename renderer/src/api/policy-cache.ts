import type { Policy, PolicyRun } from '@common/api/index.js';
import type { QueryClient } from '@tanstack/react-query';
import { queryKeys } from './query-keys.js';

/** Newest first, as the server sends them, and no longer than the list asked for. */
export function upsertRunInList(runs: readonly PolicyRun[], run: PolicyRun, limit: number): PolicyRun[] {
  return [...runs.filter((candidate) => candidate.id !== run.id), run].sort((a, b) => b.id - a.id).slice(0, limit);
}

/** Writes a run (from an event or a "run now" answer) into the open runs lists of its policy. */
export function upsertPolicyRun(queryClient: QueryClient, run: PolicyRun): void {
  for (const [key, runs] of queryClient.getQueriesData<PolicyRun[]>({ queryKey: queryKeys.policyRunLists })) {
    const [, , policyId, limit] = key as ReturnType<typeof queryKeys.policyRuns>;
    if (runs === undefined || policyId !== run.policyId) continue;
    queryClient.setQueryData<PolicyRun[]>(key, upsertRunInList(runs, run, limit));
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
