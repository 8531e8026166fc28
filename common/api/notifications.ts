import { z } from 'zod';

/**
 * Notifications: SMTP e-mail and a generic webhook (JSON POST), rules saying which events go
 * where, and the daily report. Secrets (the SMTP password, the webhook's signing secret) are
 * write-only: the server keeps them encrypted and only says whether one is set.
 */

export const NOTIFICATION_EVENT_KINDS = ['task.failed', 'policy.missed', 'policy.failed', 'report.daily'] as const;
export const NotificationEventKindSchema = z.enum(NOTIFICATION_EVENT_KINDS);
export type NotificationEventKind = z.infer<typeof NotificationEventKindSchema>;

export const NotificationChannelSchema = z.enum(['email', 'webhook']);
export type NotificationChannel = z.infer<typeof NotificationChannelSchema>;

/** none: plain SMTP (never upgraded); starttls: plain, then STARTTLS is required; tls: TLS from the first byte (port 465). */
export const SmtpSecuritySchema = z.enum(['none', 'starttls', 'tls']);
export type SmtpSecurity = z.infer<typeof SmtpSecuritySchema>;

export const EmailAddressSchema = z.email('not a valid e-mail address').max(254);

const HostSchema = z
  .string()
  .trim()
  .min(1, 'enter the SMTP server’s host name or address')
  .max(253)
  .regex(/^[A-Za-z0-9.:_-]+$/, 'a host name or an IP address, without scheme or port');

const PemSchema = z
  .string()
  .max(64 * 1024)
  .refine((s) => /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(s), { message: 'paste one or more PEM certificates (-----BEGIN CERTIFICATE-----)' });

/** "07:00": hours 00–23, minutes 00–59. */
export const TimeOfDaySchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM, e.g. 07:00');

const SmtpFields = {
  host: HostSchema,
  port: z.number().int().min(1).max(65535),
  security: SmtpSecuritySchema,
  /** Empty or null: the server takes mail without a login. */
  username: z.string().max(255).nullable().default(null),
  /** The sender address; most servers only accept their own domain here. */
  from: EmailAddressSchema,
  /** Extra CA certificates (PEM) to trust for this server's TLS certificate, e.g. an internal CA. */
  trustedCa: PemSchema.nullable().default(null),
};

export const SmtpSettingsSchema = z.object({ ...SmtpFields, passwordSet: z.boolean() });
export type SmtpSettings = z.infer<typeof SmtpSettingsSchema>;

/** Password: omitted keeps the stored one, null removes it, a string replaces it. */
export const SmtpSettingsInputSchema = z.object({ ...SmtpFields, password: z.string().min(1).max(1024).nullable().optional() });
export type SmtpSettingsInput = z.infer<typeof SmtpSettingsInputSchema>;

export const WebhookUrlSchema = z.url({ protocol: /^https?$/, message: 'an http:// or https:// URL' }).max(2048);

export const WebhookSettingsSchema = z.object({
  url: WebhookUrlSchema,
  /** When set, each POST carries X-Vplus-Signature: sha256=<HMAC-SHA256 of the body>. */
  secretSet: z.boolean(),
});
export type WebhookSettings = z.infer<typeof WebhookSettingsSchema>;

/** Secret: omitted keeps the stored one, null removes it, a string replaces it. */
export const WebhookSettingsInputSchema = z.object({ url: WebhookUrlSchema, secret: z.string().min(1).max(1024).nullable().optional() });
export type WebhookSettingsInput = z.infer<typeof WebhookSettingsInputSchema>;

export const NotificationRuleSchema = z
  .object({
    events: z.array(NotificationEventKindSchema).min(1, 'choose at least one event').max(NOTIFICATION_EVENT_KINDS.length),
    channel: NotificationChannelSchema,
    /** E-mail rules: who gets the message. Webhook rules: none (the webhook has one URL). */
    recipients: z.array(EmailAddressSchema).max(50).default([]),
  })
  .superRefine((rule, ctx) => {
    if (rule.channel === 'email' && rule.recipients.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['recipients'], message: 'an e-mail rule needs at least one recipient' });
    }
    if (rule.channel === 'webhook' && rule.recipients.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['recipients'], message: 'a webhook rule has no recipients; it posts to the webhook URL' });
    }
  });
export type NotificationRule = z.infer<typeof NotificationRuleSchema>;

export const DailyReportSettingsSchema = z.object({
  enabled: z.boolean(),
  time: TimeOfDaySchema,
  /** IANA time zone the time is read in. */
  timeZone: z.string().min(1).max(64),
});
export type DailyReportSettings = z.infer<typeof DailyReportSettingsSchema>;

export const NotificationSettingsSchema = z.object({
  /** null: no e-mail. */
  smtp: SmtpSettingsSchema.nullable(),
  /** null: no webhook. */
  webhook: WebhookSettingsSchema.nullable(),
  rules: z.array(NotificationRuleSchema),
  dailyReport: DailyReportSettingsSchema,
});
export type NotificationSettings = z.infer<typeof NotificationSettingsSchema>;

/** A part left out stays as it is; null turns e-mail or the webhook off. The result is checked as a whole. */
export const UpdateNotificationSettingsSchema = z.object({
  smtp: SmtpSettingsInputSchema.nullable().optional(),
  webhook: WebhookSettingsInputSchema.nullable().optional(),
  rules: z.array(NotificationRuleSchema).max(50).optional(),
  dailyReport: DailyReportSettingsSchema.extend({
    /** Left out: the one set before, or the server's time zone. */
    timeZone: z.string().min(1).max(64).optional(),
  }).optional(),
});
export type UpdateNotificationSettings = z.infer<typeof UpdateNotificationSettingsSchema>;

/**
 * Sends a test e-mail. Without `smtp` the saved settings are used; with it, the form's values
 * (so a setting can be tried before it is saved). A password left out is the stored one, and only
 * while host, port and username are the saved ones: it is never sent to a server it was not set for.
 */
export const TestEmailRequestSchema = z.object({
  to: EmailAddressSchema,
  smtp: SmtpSettingsInputSchema.optional(),
});
export type TestEmailRequest = z.infer<typeof TestEmailRequestSchema>;

/** Posts a test event. Without `url` the saved webhook is used; a secret left out is the stored one for the same URL. */
export const TestWebhookRequestSchema = z
  .object({
    url: WebhookUrlSchema.optional(),
    secret: z.string().min(1).max(1024).nullable().optional(),
  })
  .nullish();
export type TestWebhookRequest = z.infer<typeof TestWebhookRequestSchema>;

export const NotificationTestResultSchema = z.object({
  /** What the far end said, e.g. "250 2.0.0 Ok: queued as 1234" or "HTTP 200". */
  response: z.string(),
  /** E-mail: the addresses the server accepted. */
  accepted: z.array(z.string()).optional(),
});
export type NotificationTestResult = z.infer<typeof NotificationTestResultSchema>;

/** The daily report's numbers (also the JSON a webhook receives for report.daily). */
export const DailyReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  backups: z.object({
    succeeded: z.number().int(),
    /** Of the succeeded, those that finished with warnings. */
    withWarnings: z.number().int(),
    failed: z.number().int(),
    cancelled: z.number().int(),
    failures: z.array(z.object({ workflowId: z.number().int().nullable(), taskId: z.number().int().nullable(), subject: z.string().nullable(), error: z.string().nullable(), at: z.string() })),
  }),
  /** Other tasks (verify, prune, node checks…) that failed. */
  otherFailedTasks: z.array(z.object({ taskId: z.number().int(), type: z.string(), subject: z.string().nullable(), error: z.string().nullable(), at: z.string() })),
  policyRuns: z.object({
    finished: z.number().int(),
    failed: z.number().int(),
    missed: z.number().int(),
    missedRuns: z.array(z.object({ policy: z.string(), scheduledFor: z.string().nullable(), message: z.string().nullable() })),
  }),
  destinations: z.array(
    z.object({
      name: z.string(),
      status: z.string(),
      backups: z.number().int(),
      storedBytes: z.number(),
      logicalBytes: z.number(),
      /** Stored bytes now minus 24 hours ago (null: no earlier sample). */
      storedChangeBytes: z.number().nullable(),
      freeBytes: z.number().nullable(),
      totalBytes: z.number().nullable(),
    }),
  ),
});
export type DailyReport = z.infer<typeof DailyReportSchema>;

export const DailyReportSendResultSchema = z.object({
  report: DailyReportSchema,
  /** Channels it went to, e.g. ["email:ops@example.com", "webhook"]. */
  sentTo: z.array(z.string()),
  /** Channels that failed, with the reason. */
  failures: z.array(z.object({ channel: z.string(), message: z.string() })),
});
export type DailyReportSendResult = z.infer<typeof DailyReportSendResultSchema>;
