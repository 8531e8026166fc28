import { BackupSchema } from '@common/api/index.js';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { z } from 'zod';
import { useApiClient } from './api-client-context.js';
import { queryKeys, type BackupListFilter } from './query-keys.js';

const BackupListSchema = z.array(BackupSchema);

/** The most the server returns at once. */
export const BACKUP_LIST_LIMIT = 1000;

/** 'backups.changed' events invalidate these lists; the poll is a fallback. */
export function useBackupsQuery(filter: BackupListFilter, enabled = true) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.backupList(filter),
    queryFn: ({ signal }) =>
      api.json('GET', '/api/backups', BackupListSchema, {
        signal,
        query: { destination: filter.destination, vm: filter.vm, status: filter.status, limit: BACKUP_LIST_LIMIT },
      }),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
    enabled,
  });
}
