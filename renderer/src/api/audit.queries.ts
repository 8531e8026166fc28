import { AuditPageSchema, type AuditQuery } from '@common/api/index.js';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useApiClient } from './api-client-context.js';
import { queryKeys } from './query-keys.js';

export function useAuditQuery(query: AuditQuery) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.audit(query),
    queryFn: ({ signal }) =>
      api.json('GET', '/api/audit', AuditPageSchema, {
        signal,
        query: { limit: query.limit, cursor: query.cursor, actor: query.actor, action: query.action, from: query.from, to: query.to },
      }),
    // Keeps the table in place while the next page or filter loads, instead of flashing empty.
    placeholderData: keepPreviousData,
  });
}
