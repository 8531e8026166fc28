import { z } from 'zod';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  DailyReportSchema,
  DailyReportSendResultSchema,
  NotificationSettingsSchema,
  NotificationTestResultSchema,
  TestEmailRequestSchema,
  TestWebhookRequestSchema,
  UpdateNotificationSettingsSchema,
} from '../../../common/api/notifications.js';
import type { NotificationsService } from '../notifications/notifications.service.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 409: ApiErrorSchema };
/** 502: the SMTP server or the webhook said no (or did not answer); the message quotes it. */
const sendErrors = { ...errors, 502: ApiErrorSchema };
const tags = ['notifications'];

/** Notification settings are server configuration: administrators only, like users. */
export function registerNotificationRoutes(app: ZodApp, deps: { notifications: NotificationsService }): void {
  const svc = deps.notifications;

  app.get(
    '/api/notifications/settings',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'E-mail, webhook, rules and daily report settings (secrets only as passwordSet/secretSet)', response: { 200: NotificationSettingsSchema, ...errors } } },
    async () => svc.getSettings(),
  );

  app.patch(
    '/api/notifications/settings',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags,
        summary: 'Change the notification settings; a part left out stays, a password or secret left out keeps the stored one, null removes it',
        body: UpdateNotificationSettingsSchema,
        response: { 200: NotificationSettingsSchema, ...errors },
      },
    },
    async (request) => svc.updateSettings(request.body, principalOf(request)),
  );

  app.post(
    '/api/notifications/test-email',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags,
        summary: 'Send a test e-mail with the saved settings, or with the given (unsaved) ones',
        body: TestEmailRequestSchema,
        response: { 200: NotificationTestResultSchema, ...sendErrors },
      },
    },
    async (request) => svc.sendTestEmail(request.body, principalOf(request)),
  );

  app.post(
    '/api/notifications/test-webhook',
    {
      config: { access: { role: 'admin' } },
      schema: { tags, summary: 'Post a test event to the saved webhook, or to the given URL', body: TestWebhookRequestSchema, response: { 200: NotificationTestResultSchema, ...sendErrors } },
    },
    async (request) => svc.sendTestWebhook(request.body, principalOf(request)),
  );

  app.get(
    '/api/notifications/daily-report',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'The daily report for the last 24 hours, as it would be sent now', response: { 200: DailyReportSchema, ...errors } } },
    async () => svc.previewDailyReport(),
  );

  app.post(
    '/api/notifications/daily-report',
    {
      config: { access: { role: 'admin' } },
      schema: { tags, summary: 'Send the daily report for the last 24 hours now, to the rules that get it', body: z.object({}).nullish(), response: { 200: DailyReportSendResultSchema, ...errors } },
    },
    async (request) => svc.sendDailyReportNow(principalOf(request)),
  );
}
