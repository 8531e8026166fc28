import {
  DashboardSchema,
  PolicyPreviewSchema,
  PolicyRunPageSchema,
  PolicyRunSchema,
  PolicySchema,
  type ChangePolicyVmsSchema,
  type CreatePolicySchema,
  type Policy,
  type PolicyPreview,
  type PolicyPreviewRequestSchema,
  type UpdatePolicySchema,
} from '@common/api/index.js';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { invalidatePolicies, removePolicy, upsertPolicy, upsertPolicyRun } from './policy-cache.js';
import { queryKeys } from './query-keys.js';

export const policyPath = (ref: string | number): string => `/api/policies/${encodeURIComponent(String(ref))}`;
const PolicyListSchema = z.array(PolicySchema);

/** What the create/edit form asks the preview about: the policy as typed so far. */
export type PolicyPreviewRequest = z.input<typeof PolicyPreviewRequestSchema>;
/** The request bodies as sent: defaults are the server's to fill in. */
export type CreatePolicyRequest = z.input<typeof CreatePolicySchema>;
export type UpdatePolicyRequest = z.input<typeof UpdatePolicySchema>;
export type ChangePolicyVmsRequest = z.input<typeof ChangePolicyVmsSchema>;

export interface PolicyPreviewAnswer {
  request: PolicyPreviewRequest;
  preview: PolicyPreview;
}

/** Kept current by 'policies.changed' and 'policy.run' events; the poll is a fallback (next runs move with the clock). */
export function usePoliciesQuery(enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.policyList,
    queryFn: ({ signal }) => api.json('GET', '/api/policies', PolicyListSchema, { signal }),
    refetchInterval: 60_000,
    enabled,
  });
}

/** By id or name, as the URL has it. */
export function usePolicyQuery(ref: string) {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useQuery<Policy>({
    queryKey: queryKeys.policy(ref),
    queryFn: ({ signal }) => api.json('GET', policyPath(ref), PolicySchema, { signal }),
    // Coming from the list, the row is already known: show it while the details load.
    placeholderData: () =>
      queryClient.getQueryData<Policy[]>(queryKeys.policyList)?.find((policy) => String(policy.id) === ref || policy.name === ref),
    refetchInterval: 60_000,
  });
}

/** Newest first, a page at a time; 'policy.run' events write into the pages, so a run's state moves live. */
export function usePolicyRunsQuery(policyId: number, limit = 50, cursor?: string) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.policyRuns(policyId, limit, cursor),
    queryFn: ({ signal }) => api.json('GET', `${policyPath(policyId)}/runs`, PolicyRunPageSchema, { signal, query: { limit, cursor } }),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });
}

/**
 * What the policy as typed would do. The caller debounces the request; the previous answer
 * stays on screen while the next one loads, so the previews do not flicker while typing.
 */
export function usePolicyPreviewQuery(request: PolicyPreviewRequest, enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.policyPreview(request),
    // The answer carries its request: while the next one loads, the previous answer is still
    // shown, and what it says (an error at rule 2) must be read against what was asked.
    queryFn: async ({ signal }): Promise<PolicyPreviewAnswer> => ({
      request,
      preview: await api.json('POST', '/api/policies/preview', PolicyPreviewSchema, { signal, body: request }),
    }),
    placeholderData: keepPreviousData,
    enabled,
  });
}

export function useDashboardQuery() {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.dashboard,
    queryFn: ({ signal }) => api.json('GET', '/api/dashboard', DashboardSchema, { signal }),
    refetchInterval: 60_000,
  });
}

/**
 * Mutations update the caches themselves: the 'policies.changed' event does it too, but the
 * WebSocket may be reconnecting at that moment.
 */
function usePolicySaved() {
  const queryClient = useQueryClient();
  return (policy: Policy) => {
    upsertPolicy(queryClient, policy);
    invalidatePolicies(queryClient);
  };
}

export function useCreatePolicyMutation() {
  const api = useApiClient();
  const saved = usePolicySaved();
  return useMutation({
    mutationFn: (policy: CreatePolicyRequest) => api.json('POST', '/api/policies', PolicySchema, { body: policy }),
    onSuccess: saved,
    // The form shows a refusal under the field the server names.
    meta: { inlineErrors: true },
  });
}

export function useUpdatePolicyMutation() {
  const api = useApiClient();
  const saved = usePolicySaved();
  return useMutation({
    mutationFn: ({ id, change }: { id: number; change: UpdatePolicyRequest }) => api.json('PATCH', policyPath(id), PolicySchema, { body: change }),
    onSuccess: saved,
    meta: { inlineErrors: true },
  });
}

export function useDeletePolicyMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.empty('DELETE', policyPath(id)),
    onSuccess: (_result, id) => {
      removePolicy(queryClient, id);
      invalidatePolicies(queryClient);
    },
    // A 409 (the policy is running) is shown in the confirmation dialog.
    meta: { inlineErrors: true },
  });
}

/** Puts VMs in the policy by hand, or takes them out; VMs by id. */
export function usePolicyVmsMutation() {
  const api = useApiClient();
  const saved = usePolicySaved();
  return useMutation({
    mutationFn: ({ id, action, vms }: { id: number; action: 'assign' | 'unassign'; vms: number[] }) =>
      api.json('POST', `${policyPath(id)}/${action}`, PolicySchema, { body: { vms: vms.map(String) } }),
    onSuccess: saved,
    // Both dialogs that use it show the refusal themselves.
    meta: { inlineErrors: true },
  });
}

/**
 * The form's VM checklist saved in one call (VMs by id): put in by hand and taken out, all
 * or nothing. The form shows a refusal itself, on the VM it names.
 */
export function useChangePolicyVmsMutation() {
  const api = useApiClient();
  const saved = usePolicySaved();
  return useMutation({
    mutationFn: ({ id, assign, unassign }: { id: number; assign: number[]; unassign: number[] }) =>
      api.json('POST', `${policyPath(id)}/vms`, PolicySchema, { body: { assign: assign.map(String), unassign: unassign.map(String) } satisfies ChangePolicyVmsRequest }),
    onSuccess: saved,
    meta: { inlineErrors: true },
  });
}

export type RunBackupType = 'full' | 'incremental';

/** "Run now": 202 with the run, which 'policy.run' events then move. */
export function useRunPolicyMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, backupType }: { id: number; backupType?: RunBackupType }) =>
      api.json('POST', `${policyPath(id)}/run`, PolicyRunSchema, { body: backupType === undefined ? {} : { backupType } }),
    onSuccess: (run) => {
      upsertPolicyRun(queryClient, run);
      void queryClient.invalidateQueries({ queryKey: queryKeys.policyList });
      void queryClient.invalidateQueries({ queryKey: queryKeys.policyDetails });
    },
    meta: { errorTitle: 'The policy did not start' },
  });
}

/** "Apply retention now": prune by the policy's rules, then collect garbage. */
export function useApplyRetentionMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.json('POST', `${policyPath(id)}/retention`, PolicyRunSchema, { body: {} }),
    onSuccess: (run) => upsertPolicyRun(queryClient, run),
    // The dialog shows a refusal inside it.
    meta: { inlineErrors: true },
  });
}
