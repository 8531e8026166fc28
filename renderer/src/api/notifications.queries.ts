import {
  DailyReportSendResultSchema,
  NotificationSettingsSchema,
  NotificationTestResultSchema,
  type TestEmailRequest,
  type TestWebhookRequest,
  type UpdateNotificationSettings,
} from '@common/api/index.js';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApiClient } from './api-client-context.js';

/** Kept here rather than in query-keys.ts while that file is busy with the policies work; nothing else touches this cache. */
export const notificationKeys = {
  settings: ['notifications', 'settings'] as const,
};

/** Admin-only on the server; callers pass enabled=false for other roles to skip a certain 403. */
export function useNotificationSettingsQuery(enabled: boolean) {
  const api = useApiClient();
  return useQuery({
    queryKey: notificationKeys.settings,
    queryFn: ({ signal }) => api.json('GET', '/api/notifications/settings', NotificationSettingsSchema, { signal }),
    enabled,
  });
}

export function useSaveNotificationSettingsMutation() {
  const api = useApiClient();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (settings: UpdateNotificationSettings) => api.json('PATCH', '/api/notifications/settings', NotificationSettingsSchema, { body: settings }),
    onSuccess: (saved) => queryClient.setQueryData(notificationKeys.settings, saved),
    meta: { inlineErrors: true },
  });
}

/** The result (or the SMTP server's refusal) is shown next to the button, not as a toast. */
export function useTestEmailMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (request: TestEmailRequest) => api.json('POST', '/api/notifications/test-email', NotificationTestResultSchema, { body: request }),
    meta: { inlineErrors: true },
  });
}

export function useTestWebhookMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: (request: NonNullable<TestWebhookRequest>) => api.json('POST', '/api/notifications/test-webhook', NotificationTestResultSchema, { body: request }),
    meta: { inlineErrors: true },
  });
}

export function useSendDailyReportMutation() {
  const api = useApiClient();
  return useMutation({
    mutationFn: () => api.json('POST', '/api/notifications/daily-report', DailyReportSendResultSchema, { body: {} }),
    meta: { inlineErrors: true },
  });
}
