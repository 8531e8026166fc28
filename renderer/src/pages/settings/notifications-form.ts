import {
  UpdateNotificationSettingsSchema,
  type NotificationChannel,
  type NotificationEventKind,
  type NotificationSettings,
  type SmtpSecurity,
  type SmtpSettingsInput,
  type UpdateNotificationSettings,
} from '@common/api/index.js';

export interface RuleFormValues {
  /** Stable React key for the row. */
  key: string;
  events: NotificationEventKind[];
  channel: NotificationChannel;
  recipients: string[];
}

export interface NotificationsFormValues {
  emailEnabled: boolean;
  host: string;
  /** NumberInput gives '' while the field is empty. */
  port: number | string;
  security: SmtpSecurity;
  username: string;
  /** Empty: keep the stored password (if any). */
  password: string;
  clearPassword: boolean;
  from: string;
  trustedCa: string;
  webhookEnabled: boolean;
  webhookUrl: string;
  /** Empty: keep the stored secret (if any). */
  webhookSecret: string;
  clearWebhookSecret: boolean;
  rules: RuleFormValues[];
  dailyEnabled: boolean;
  dailyTime: string;
  timeZone: string;
}

export const EVENT_OPTIONS: { value: NotificationEventKind; label: string }[] = [
  { value: 'task.failed', label: 'Task or backup failed' },
  { value: 'policy.missed', label: 'Policy run missed' },
  { value: 'policy.failed', label: 'Policy run failed' },
  { value: 'report.daily', label: 'Daily report' },
];

export const SECURITY_OPTIONS: { value: SmtpSecurity; label: string }[] = [
  { value: 'starttls', label: 'STARTTLS' },
  { value: 'tls', label: 'TLS' },
  { value: 'none', label: 'None' },
];

/** The port each security mode usually runs on; the form suggests it when the mode changes. */
export const DEFAULT_PORTS: Record<SmtpSecurity, number> = { starttls: 587, tls: 465, none: 25 };

let nextKey = 0;
export const ruleKey = (): string => `rule-${++nextKey}`;

export function newRule(channel: NotificationChannel): RuleFormValues {
  return { key: ruleKey(), events: ['task.failed', 'policy.missed', 'policy.failed'], channel, recipients: [] };
}

export function toFormValues(s: NotificationSettings): NotificationsFormValues {
  return {
    emailEnabled: s.smtp !== null,
    host: s.smtp?.host ?? '',
    port: s.smtp?.port ?? DEFAULT_PORTS.starttls,
    security: s.smtp?.security ?? 'starttls',
    username: s.smtp?.username ?? '',
    password: '',
    clearPassword: false,
    from: s.smtp?.from ?? '',
    trustedCa: s.smtp?.trustedCa ?? '',
    webhookEnabled: s.webhook !== null,
    webhookUrl: s.webhook?.url ?? '',
    webhookSecret: '',
    clearWebhookSecret: false,
    rules: s.rules.map((r) => ({ key: ruleKey(), events: r.events, channel: r.channel, recipients: r.recipients })),
    dailyEnabled: s.dailyReport.enabled,
    dailyTime: s.dailyReport.time,
    timeZone: s.dailyReport.timeZone,
  };
}

/** The SMTP part as the API takes it: a password only when typed (or null to remove it). */
export function toSmtpInput(v: NotificationsFormValues): SmtpSettingsInput {
  const username = v.username.trim();
  const trustedCa = v.trustedCa.trim();
  return {
    host: v.host.trim(),
    port: Number(v.port),
    security: v.security,
    username: username === '' ? null : username,
    from: v.from.trim(),
    trustedCa: trustedCa === '' ? null : trustedCa,
    ...(v.password !== '' ? { password: v.password } : v.clearPassword ? { password: null } : {}),
  };
}

export function toRequest(v: NotificationsFormValues): UpdateNotificationSettings {
  return {
    smtp: v.emailEnabled ? toSmtpInput(v) : null,
    webhook: v.webhookEnabled
      ? { url: v.webhookUrl.trim(), ...(v.webhookSecret !== '' ? { secret: v.webhookSecret } : v.clearWebhookSecret ? { secret: null } : {}) }
      : null,
    rules: v.rules.map((r) => ({ events: r.events, channel: r.channel, recipients: r.channel === 'email' ? r.recipients.map((a) => a.trim()) : [] })),
    dailyReport: { enabled: v.dailyEnabled, time: v.dailyTime, timeZone: v.timeZone },
  };
}

const FIELD_OF: Record<string, keyof NotificationsFormValues> = {
  smtp: 'host',
  'smtp.host': 'host',
  'smtp.port': 'port',
  'smtp.security': 'security',
  'smtp.username': 'username',
  'smtp.password': 'password',
  'smtp.from': 'from',
  'smtp.trustedCa': 'trustedCa',
  webhook: 'webhookUrl',
  url: 'webhookUrl',
  'webhook.url': 'webhookUrl',
  'webhook.secret': 'webhookSecret',
  'dailyReport.enabled': 'dailyEnabled',
  'dailyReport.time': 'dailyTime',
  'dailyReport.timeZone': 'timeZone',
};

/**
 * Where an error about an API field belongs in this form ("smtp.port" → "port",
 * "rules.1.recipients.0" → "rules.1.recipients"), or null when it has no place of its own.
 */
export function formFieldOf(apiField: string | undefined): string | null {
  if (apiField === undefined) return null;
  const rule = /^rules\.(\d+)\.(events|channel|recipients)/.exec(apiField);
  if (rule) return `rules.${rule[1]}.${rule[2]}`;
  return FIELD_OF[apiField] ?? null;
}

/** The server's rules (common/api), checked before sending; errors land on the form's fields. */
export function validate(v: NotificationsFormValues): Record<string, string> {
  const errors: Record<string, string> = {};
  const parsed = UpdateNotificationSettingsSchema.safeParse(toRequest(v));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = formFieldOf(issue.path.join('.'));
      if (field !== null && errors[field] === undefined) errors[field] = sentence(issue.message);
    }
  }
  if (v.emailEnabled && v.port === '') errors.port = 'Enter the port';
  for (const [i, rule] of v.rules.entries()) {
    if (rule.channel === 'email' && !v.emailEnabled) errors[`rules.${i}.channel`] = 'Turn on e-mail above, or choose the webhook';
    if (rule.channel === 'webhook' && !v.webhookEnabled) errors[`rules.${i}.channel`] = 'Turn on the webhook above, or choose e-mail';
  }
  if (v.dailyEnabled && !v.rules.some((r) => r.events.includes('report.daily'))) errors.dailyEnabled = 'Add “Daily report” to a rule so the report goes somewhere';
  return errors;
}

const sentence = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
