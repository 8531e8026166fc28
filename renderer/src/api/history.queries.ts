import { CatalogSizeSchema, HistorySettingsSchema, type HistoryLimits } from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApiClient } from './api-client-context.js';

/** Kept here: nothing else touches these caches. */
export const historyKeys = {
  settings: ['settings', 'history'] as const,
  catalogSize: ['catalog', 'size'] as const,
};

/** While a prune runs, its counts move: look again every 2 s. */
const PRUNING_POLL_MS = 2_000;

/** Admin-only on the server; callers pass enabled=false for other roles to skip a certain 403. */
export function useHistorySettingsQuery(enabled: boolean) {
  const api = useApiClient();
  return useQuery({
    queryKey: historyKeys.settings,
    queryFn: ({ signal }) => api.json('GET', '/api/settings/history', HistorySettingsSchema, { signal }),
    enabled,
    refetchInterval: (query) => (query.state.data?.pruning ? PRUNING_POLL_MS : false),
  });
}

export function useSaveHistoryLimitsMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (limits: HistoryLimits) => api.json('PUT', '/api/settings/history', HistorySettingsSchema, { body: limits }),
    onSuccess: (saved) => queryClient.setQueryData(historyKeys.settings, saved),
    meta: { inlineErrors: true },
  });
}

export function usePruneHistoryMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => api.json('POST', '/api/settings/history/prune', HistorySettingsSchema, { body: {} }),
    onSuccess: (settings) => {
      queryClient.setQueryData(historyKeys.settings, settings);
      void queryClient.invalidateQueries({ queryKey: historyKeys.catalogSize });
    },
    meta: { errorTitle: 'Could not start pruning the history' },
  });
}

/** For everyone: the dashboard shows it. */
export function useCatalogSizeQuery() {
  const api = useApiClient();
  return useQuery({
    queryKey: historyKeys.catalogSize,
    queryFn: ({ signal }) => api.json('GET', '/api/catalog/size', CatalogSizeSchema, { signal }),
    staleTime: 60_000,
  });
}
