/**
 * Notifications (issue 6): SMTP e-mail and a generic webhook, rules saying which events go to
 * which recipients, and the daily report. The scheduler calls notify(), dailyReportSchedule()
 * and runDailyReport(); server.ts constructs the service; the API edits its settings.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  DailyReportSettingsSchema,
  NotificationRuleSchema,
  SmtpSettingsSchema,
  WebhookSettingsSchema,
  type DailyReport,
  type DailyReportSendResult,
  type NotificationSettings,
  type NotificationTestResult,
  type TestEmailRequest,
  type TestWebhookRequest,
  type UpdateNotificationSettings,
} from '../../../common/api/notifications.js';
import type { Task } from '../../../common/api/tasks.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { Clock } from '../clock.js';
import type { Catalog } from '../db/catalog.js';
import { AppError, badRequest, conflict } from '../errors.js';
import type { SecretsRepository } from '../security/secrets.repository.js';
import type { TaskListeners } from '../tasks/task-contracts.js';
import { buildDailyReport } from './daily-report.js';
import { DeliveryError, SmtpMailer, type Mailer, type SmtpConfig } from './email-sender.js';
import type { NotificationEvent, NotificationEventKind } from './notification-events.js';
import { dailyReportMessage, policyRunMessage, taskFailedMessage, testMessage, type ComposedMessage, type MessageContext } from './notification-messages.js';
import { NotificationsRepository } from './notifications.repository.js';
import { HttpWebhookPoster, type WebhookPoster } from './webhook-sender.js';

export interface NotificationsDeps {
  catalog: Catalog;
  secrets: SecretsRepository;
  engine: { listeners: Pick<TaskListeners, 'onAny'> };
  audit: AuditService;
  logger: Logger;
  clock: Clock;
  /** Defaults: nodemailer over SMTP, fetch for the webhook, both with a 10 s timeout. */
  mailer?: Mailer;
  webhooks?: WebhookPoster;
  /** Named in every message; default: this machine's host name. */
  serverName?: string;
  /** The daily report's zone when the admin chose none; default: the server's. */
  defaultTimeZone?: string;
}

const PASSWORD_SECRET = 'notifications:smtp-password';
const WEBHOOK_SECRET = 'notifications:webhook-secret';
/** Enough to cover every workflow that can fail while the server runs, without growing for ever. */
const REMEMBERED_WORKFLOWS = 10_000;
const PROBLEM_LOG_LINES = 10;

const StoredSettingsSchema = z.object({
  smtp: SmtpSettingsSchema.omit({ passwordSet: true }).nullable(),
  webhook: WebhookSettingsSchema.omit({ secretSet: true }).nullable(),
  rules: z.array(NotificationRuleSchema),
  dailyReport: DailyReportSettingsSchema.partial({ timeZone: true }),
});
type StoredSettings = z.infer<typeof StoredSettingsSchema>;

const DEFAULT_SETTINGS: StoredSettings = { smtp: null, webhook: null, rules: [], dailyReport: { enabled: false, time: '07:00' } };

interface Delivery {
  sentTo: string[];
  failures: { channel: string; message: string }[];
}

export class NotificationsService {
  private readonly repo: NotificationsRepository;
  private readonly mailer: Mailer;
  private readonly webhooks: WebhookPoster;
  private readonly serverName: string;
  private readonly defaultTimeZone: string;
  private readonly notifiedWorkflows = new Set<number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly scheduleListeners = new Set<() => void>();

  constructor(private readonly deps: NotificationsDeps) {
    this.repo = new NotificationsRepository(deps.catalog);
    this.mailer = deps.mailer ?? new SmtpMailer();
    this.webhooks = deps.webhooks ?? new HttpWebhookPoster();
    this.serverName = deps.serverName ?? os.hostname();
    this.defaultTimeZone = deps.defaultTimeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    deps.engine.listeners.onAny(async (task) => this.onTaskFinished(task));
  }

  // ---- the contract with the scheduler ----------------------------------------------

  /**
   * Sends an event to every channel/recipient whose rule asks for it. Never throws: failures are logged.
   * Resolves once the event is queued: delivery runs in the background (idle() waits for it), so a
   * slow or unreachable mail server never holds up the scheduler or the task engine.
   */
  async notify(event: NotificationEvent): Promise<void> {
    const sending = this.send(event);
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }

  /** The daily report's schedule as a schedule rule ("daily 07:00") in `timeZone`, or null when it is off. */
  async dailyReportSchedule(): Promise<{ spec: string; timeZone: string } | null> {
    const settings = await this.load();
    if (!settings.dailyReport.enabled || !settings.rules.some((r) => r.events.includes('report.daily'))) return null;
    return { spec: `daily ${settings.dailyReport.time}`, timeZone: this.timeZoneOf(settings) };
  }

  /** Builds and sends the daily report covering the 24 hours before `nowMs`. Never throws: failures are logged. */
  async runDailyReport(nowMs: number): Promise<void> {
    try {
      const settings = await this.load();
      if (!settings.dailyReport.enabled) {
        this.deps.logger.info('the daily report is off; not sending it');
        return;
      }
      await this.sendReport(settings, nowMs);
    } catch (err) {
      this.deps.logger.error({ err: errorSummary(err) }, 'could not send the daily report');
    }
  }

  /** Called when the daily report's schedule may have changed (the scheduler re-reads dailyReportSchedule()). */
  onDailyReportScheduleChanged(listener: () => void): () => void {
    this.scheduleListeners.add(listener);
    return () => this.scheduleListeners.delete(listener);
  }

  /** Resolves once the notifications already under way are delivered (or failed): for shutdown and tests. */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  // ---- settings (API) -----------------------------------------------------------------

  async getSettings(): Promise<NotificationSettings> {
    return this.view(await this.load());
  }

  async updateSettings(input: UpdateNotificationSettings, by: Principal): Promise<NotificationSettings> {
    const before = await this.load();
    const { smtp, webhook, rules, dailyReport } = input;
    const next: StoredSettings = {
      smtp:
        smtp === undefined
          ? before.smtp
          : smtp === null
            ? null
            : { host: smtp.host, port: smtp.port, security: smtp.security, username: smtp.username?.trim() || null, from: smtp.from, trustedCa: smtp.trustedCa?.trim() || null },
      webhook: webhook === undefined ? before.webhook : webhook === null ? null : { url: webhook.url },
      rules: rules === undefined ? before.rules : rules.map((r) => ({ ...r, events: [...new Set(r.events)], recipients: dedupe(r.recipients) })),
      dailyReport:
        dailyReport === undefined
          ? before.dailyReport
          : { enabled: dailyReport.enabled, time: dailyReport.time, ...((dailyReport.timeZone ?? before.dailyReport.timeZone) ? { timeZone: dailyReport.timeZone ?? before.dailyReport.timeZone } : {}) },
    };
    this.validate(next);

    // undefined: keep the stored one; null: remove it; a string: replace it.
    const password = smtp === null ? null : smtp?.password;
    const secret = webhook === null ? null : webhook?.secret;
    const entry = await this.deps.catalog.transaction(async (tx) => {
      await this.repo.writeSettings(next, tx);
      if (typeof password === 'string') await this.deps.secrets.put(PASSWORD_SECRET, password, tx);
      if (typeof secret === 'string') await this.deps.secrets.put(WEBHOOK_SECRET, secret, tx);
      return this.deps.audit.record(
        {
          actor: by.user.username,
          action: 'notifications.update',
          target: 'settings:notifications',
          // Never the password, the secret or the webhook's path (often a secret of its own).
          details: {
            email: next.smtp ? `${next.smtp.host}:${next.smtp.port} (${next.smtp.security})` : null,
            passwordChanged: password !== undefined && (password !== null || before.smtp !== null),
            webhook: next.webhook ? new URL(next.webhook.url).origin : null,
            webhookSecretChanged: secret !== undefined && (secret !== null || before.webhook !== null),
            rules: next.rules.map((r) => `${r.events.join('+')} → ${r.channel === 'email' ? r.recipients.join(', ') : 'webhook'}`),
            dailyReport: next.dailyReport.enabled ? `${next.dailyReport.time} ${this.timeZoneOf(next)}` : 'off',
          },
        },
        tx,
      );
    });
    this.deps.audit.announce(entry);
    if (password === null) await this.deps.secrets.delete(PASSWORD_SECRET);
    if (secret === null) await this.deps.secrets.delete(WEBHOOK_SECRET);

    const schedule = (s: StoredSettings): string => (s.dailyReport.enabled ? `${s.dailyReport.time} ${this.timeZoneOf(s)}` : 'off');
    if (schedule(before) !== schedule(next)) {
      for (const listener of this.scheduleListeners) {
        try {
          listener();
        } catch (err) {
          this.deps.logger.error({ err }, 'a daily-report schedule listener failed');
        }
      }
    }
    return this.getSettings();
  }

  /** Sends a test e-mail with the saved settings, or with the form's (see TestEmailRequestSchema). */
  async sendTestEmail(req: TestEmailRequest, by: Principal): Promise<NotificationTestResult> {
    const settings = await this.load();
    let config: SmtpConfig;
    if (req.smtp) {
      const s = req.smtp;
      const username = s.username?.trim() || null;
      const saved = settings.smtp;
      let password: string | undefined;
      if (typeof s.password === 'string') password = s.password;
      else if (s.password === undefined && saved && saved.host === s.host && saved.port === s.port && saved.username === username) {
        password = await this.deps.secrets.get(PASSWORD_SECRET);
      }
      if (username && password === undefined) {
        throw badRequest('enter the password to test these settings: the stored one is only used with the saved server, port and username', 'smtp.password');
      }
      config = { host: s.host, port: s.port, security: s.security, username, password, from: s.from, trustedCa: s.trustedCa?.trim() || null };
    } else if (settings.smtp) {
      config = { ...settings.smtp, password: await this.deps.secrets.get(PASSWORD_SECRET) };
    } else {
      throw conflict('e-mail is not set up yet: enter the SMTP server first', 'smtp');
    }

    const message = testMessage(by.user.username, this.context(settings));
    const where = `${config.host}:${config.port}`;
    try {
      const result = await this.mailer.send(config, { to: [req.to], subject: message.subject, text: message.text });
      await this.deps.audit.record({ actor: by.user.username, action: 'notifications.test-email', target: `email:${req.to}`, details: { server: where, result: 'sent' } });
      return { response: result.response, accepted: result.accepted };
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      await this.deps.audit.record({ actor: by.user.username, action: 'notifications.test-email', target: `email:${req.to}`, details: { server: where, result: err.message } });
      throw new AppError(502, 'SMTP_FAILED', err.message);
    }
  }

  /** Posts a test event to the saved webhook, or to the given URL. */
  async sendTestWebhook(req: TestWebhookRequest, by: Principal): Promise<NotificationTestResult> {
    const settings = await this.load();
    const url = req?.url ?? settings.webhook?.url;
    if (!url) throw conflict('no webhook is set up yet: enter its URL first', 'url');
    let secret: string | undefined;
    if (typeof req?.secret === 'string') secret = req.secret;
    else if (req?.secret === undefined && url === settings.webhook?.url) secret = await this.deps.secrets.get(WEBHOOK_SECRET);
    const message = testMessage(by.user.username, this.context(settings));
    const origin = new URL(url).origin;
    try {
      const result = await this.webhooks.post({ url, secret }, message.event, message.payload);
      await this.deps.audit.record({ actor: by.user.username, action: 'notifications.test-webhook', target: `webhook:${origin}`, details: { result: result.response } });
      return { response: result.response };
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      await this.deps.audit.record({ actor: by.user.username, action: 'notifications.test-webhook', target: `webhook:${origin}`, details: { result: err.message } });
      throw new AppError(502, 'WEBHOOK_FAILED', err.message);
    }
  }

  /** The report the next daily report would hold if it were sent now. */
  async previewDailyReport(): Promise<DailyReport> {
    return buildDailyReport(this.repo, this.deps.clock.now());
  }

  /** Sends the daily report now, whether or not it is scheduled (it still needs a rule). */
  async sendDailyReportNow(by: Principal): Promise<DailyReportSendResult> {
    const settings = await this.load();
    if (!settings.rules.some((r) => r.events.includes('report.daily'))) throw conflict('no rule sends the daily report: add "Daily report" to a rule first', 'rules');
    const result = await this.sendReport(settings, this.deps.clock.now());
    await this.deps.audit.record({ actor: by.user.username, action: 'notifications.daily-report', target: 'settings:notifications', details: { sentTo: result.sentTo, failures: result.failures.length } });
    return result;
  }

  // ---- internals ------------------------------------------------------------------------

  private async onTaskFinished(task: Task): Promise<void> {
    if (task.state !== 'FAILED') return;
    if (task.workflowId !== null) {
      // One message per failed workflow: the steps after the failed one end CANCELLED, never FAILED, but be sure.
      if (this.notifiedWorkflows.has(task.workflowId)) return;
      this.notifiedWorkflows.add(task.workflowId);
      if (this.notifiedWorkflows.size > REMEMBERED_WORKFLOWS) this.notifiedWorkflows.delete(this.notifiedWorkflows.values().next().value!);
    }
    await this.notify({ kind: 'task.failed', task });
  }

  private async send(event: NotificationEvent): Promise<void> {
    try {
      const settings = await this.load();
      if (!settings.rules.some((r) => r.events.includes(event.kind))) return;
      const message = await this.compose(event, settings);
      await this.deliver(settings, event.kind, message);
    } catch (err) {
      this.deps.logger.error({ kind: event.kind, err: errorSummary(err) }, 'could not send a notification');
    }
  }

  private async sendReport(settings: StoredSettings, nowMs: number): Promise<DailyReportSendResult> {
    const report = await buildDailyReport(this.repo, nowMs);
    const message = dailyReportMessage(report, this.context(settings, nowMs));
    const delivery = await this.deliver(settings, 'report.daily', message);
    return { report, ...delivery };
  }

  private async compose(event: NotificationEvent, settings: StoredSettings): Promise<ComposedMessage> {
    const ctx = this.context(settings);
    switch (event.kind) {
      case 'task.failed': {
        const workflow = event.task.workflowId !== null ? await this.repo.workflow(event.task.workflowId) : undefined;
        const problems = await this.repo.problemLog(event.task.id, PROBLEM_LOG_LINES);
        return taskFailedMessage(event.task, workflow, problems, ctx);
      }
      case 'policy.missed':
      case 'policy.failed':
        return policyRunMessage(event.kind, event.run, ctx);
    }
  }

  /** Sends `message` to everyone whose rule names `kind`: one e-mail to all their addresses, one POST to the webhook. */
  private async deliver(settings: StoredSettings, kind: NotificationEventKind, message: ComposedMessage): Promise<Delivery> {
    const rules = settings.rules.filter((r) => r.events.includes(kind));
    const recipients = dedupe(rules.filter((r) => r.channel === 'email').flatMap((r) => r.recipients));
    const toWebhook = rules.some((r) => r.channel === 'webhook');
    const out: Delivery = { sentTo: [], failures: [] };
    const jobs: Promise<void>[] = [];
    const fail = (channel: string, msg: string): void => {
      out.failures.push({ channel, message: msg });
      this.deps.logger.warn({ kind, channel, reason: msg }, 'a notification was not delivered');
    };

    if (recipients.length) {
      const smtp = settings.smtp;
      if (!smtp) fail('email', 'e-mail is not set up');
      else {
        jobs.push(
          (async () => {
            try {
              const password = smtp.username ? await this.deps.secrets.get(PASSWORD_SECRET) : undefined;
              const r = await this.mailer.send({ ...smtp, password }, { to: recipients, subject: message.subject, text: message.text });
              out.sentTo.push(...recipients.map((to) => `email:${to}`));
              this.deps.logger.info({ kind, channel: 'email', recipients: recipients.length, response: r.response }, 'notification sent');
            } catch (err) {
              fail('email', err instanceof DeliveryError ? err.message : errorSummary(err));
            }
          })(),
        );
      }
    }
    if (toWebhook) {
      const webhook = settings.webhook;
      if (!webhook) fail('webhook', 'no webhook is set up');
      else {
        jobs.push(
          (async () => {
            try {
              const secret = await this.deps.secrets.get(WEBHOOK_SECRET);
              const r = await this.webhooks.post({ url: webhook.url, secret }, message.event, message.payload);
              out.sentTo.push('webhook');
              this.deps.logger.info({ kind, channel: 'webhook', response: r.response }, 'notification sent');
            } catch (err) {
              fail('webhook', err instanceof DeliveryError ? err.message : errorSummary(err));
            }
          })(),
        );
      }
    }
    await Promise.all(jobs);
    return out;
  }

  private validate(s: StoredSettings): void {
    for (const [i, rule] of s.rules.entries()) {
      if (rule.channel === 'email' && !s.smtp) throw badRequest(`rule ${i + 1} sends e-mail, but e-mail is not set up: enter the SMTP server`, `rules.${i}.channel`);
      if (rule.channel === 'webhook' && !s.webhook) throw badRequest(`rule ${i + 1} posts to the webhook, but no webhook URL is set`, `rules.${i}.channel`);
    }
    if (s.dailyReport.timeZone !== undefined && !isTimeZone(s.dailyReport.timeZone)) {
      throw badRequest(`"${s.dailyReport.timeZone}" is not a time zone this server knows (use an IANA name such as Europe/Berlin)`, 'dailyReport.timeZone');
    }
    if (s.dailyReport.enabled && !s.rules.some((r) => r.events.includes('report.daily'))) {
      throw badRequest('the daily report is on, but no rule sends it: add "Daily report" to a rule', 'dailyReport.enabled');
    }
  }

  private async load(): Promise<StoredSettings> {
    const raw = await this.repo.readSettings();
    if (raw === undefined || raw === null) return DEFAULT_SETTINGS;
    const parsed = StoredSettingsSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.deps.logger.error({ issue: parsed.error.issues[0] }, 'the stored notification settings are damaged; using none until they are saved again');
    return DEFAULT_SETTINGS;
  }

  private async view(s: StoredSettings): Promise<NotificationSettings> {
    return {
      smtp: s.smtp ? { ...s.smtp, passwordSet: (await this.deps.secrets.get(PASSWORD_SECRET)) !== undefined } : null,
      webhook: s.webhook ? { ...s.webhook, secretSet: (await this.deps.secrets.get(WEBHOOK_SECRET)) !== undefined } : null,
      rules: s.rules,
      dailyReport: { enabled: s.dailyReport.enabled, time: s.dailyReport.time, timeZone: this.timeZoneOf(s) },
    };
  }

  private timeZoneOf(s: StoredSettings): string {
    return s.dailyReport.timeZone ?? this.defaultTimeZone;
  }

  private context(settings: StoredSettings, nowMs = this.deps.clock.now()): MessageContext {
    return { server: this.serverName, timeZone: this.timeZoneOf(settings), now: new Date(nowMs) };
  }
}

function dedupe(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const key = a.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Only the message: errors from mail and HTTP clients can carry the request (and its credentials) along. */
function errorSummary(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
