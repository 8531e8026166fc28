import {
  ContactListResultSchema,
  EventListResultSchema,
  MailMessageDetailSchema,
  MailSearchResultSchema,
  type ContactListQuery,
  type EventListQuery,
  type MailSearchQuery,
} from '@common/api/m365-mail.js';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { queryParams } from '../utils/exchange-format.js';
import { useApiClient } from './api-client-context.js';
import { mountPath } from './mounts.queries.js';
import { queryKeys } from './query-keys.js';

/**
 * The mail browser's reads of an open Microsoft 365 mount (common/api/m365-mail.ts). A backup
 * never changes, so what was read stays true while the mount is open; the previous page stays
 * on screen while the next one loads.
 */
const browseOptions = { staleTime: Infinity, retry: false, placeholderData: keepPreviousData } as const;

/** A folder's messages, or a search (from "mail": the whole mailbox). */
export function useMailSearchQuery(mountId: number, query: MailSearchQuery, enabled: boolean) {
  const api = useApiClient();
  const params = queryParams({ ...query });
  return useQuery({
    queryKey: queryKeys.mailSearch(mountId, params),
    queryFn: ({ signal }) => api.json('GET', `${mountPath(mountId)}/mail/messages`, MailSearchResultSchema, { signal, query: params }),
    enabled,
    ...browseOptions,
  });
}

/** One message's headers, attachments and text; its HTML is loaded by the preview frame itself. */
export function useMailMessageQuery(mountId: number, path: string | null) {
  const api = useApiClient();
  return useQuery({
    queryKey: queryKeys.mailMessage(mountId, path ?? ''),
    queryFn: ({ signal }) => api.json('GET', `${mountPath(mountId)}/mail/message`, MailMessageDetailSchema, { signal, query: { path: path ?? '' } }),
    enabled: path !== null,
    staleTime: Infinity,
    retry: false,
  });
}

export function useEventListQuery(mountId: number, query: EventListQuery, enabled: boolean) {
  const api = useApiClient();
  const params = queryParams({ ...query });
  return useQuery({
    queryKey: queryKeys.eventList(mountId, params),
    queryFn: ({ signal }) => api.json('GET', `${mountPath(mountId)}/calendar/events`, EventListResultSchema, { signal, query: params }),
    enabled,
    ...browseOptions,
  });
}

export function useContactListQuery(mountId: number, query: ContactListQuery, enabled: boolean) {
  const api = useApiClient();
  const params = queryParams({ ...query });
  return useQuery({
    queryKey: queryKeys.contactList(mountId, params),
    queryFn: ({ signal }) => api.json('GET', `${mountPath(mountId)}/contacts/list`, ContactListResultSchema, { signal, query: params }),
    enabled,
    ...browseOptions,
  });
}
