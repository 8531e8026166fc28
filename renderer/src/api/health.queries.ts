import { HealthSchema, StatusSchema } from '@common/api/index.js';
import { useQuery } from '@tanstack/react-query';
import { useApiClient } from './api-client-context.js';
import { queryKeys } from './query-keys.js';

/** Public; decides between first-run setup and sign-in before anything else renders. */
export function useHealthQuery() {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.health,
    queryFn: ({ signal }) => api.json('GET', '/api/health', HealthSchema, { signal }),
    staleTime: 30_000,
  });
}

/** Polled as a fallback; 'catalog' events on the WebSocket update it sooner. */
export function useStatusQuery() {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.status,
    queryFn: ({ signal }) => api.json('GET', '/api/status', StatusSchema, { signal }),
    refetchInterval: 15_000,
  });
}
