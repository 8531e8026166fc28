import { createHmac } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditPage } from '../../../common/api/audit.js';
import type { NotificationSettings, NotificationTestResult, UpdateNotificationSettings } from '../../../common/api/notifications.js';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { createUser, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';
import { makeCertificates, SmtpSink, WebhookReceiver, type TestCertificates } from './mail-sinks.js';

const PASSWORD = 'smtp-password-9f1c';
const WEBHOOK_SECRET = 'hook-secret-77aa';

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Notification settings and the test buttons through the API of a real server (real MariaDB),
 * against real SMTP servers on loopback (smtp-server: STARTTLS with a login, implicit TLS, plain)
 * whose certificate comes from a CA made for this run, and a real HTTP webhook receiver.
 */
describe('notification settings, test e-mail and test webhook', () => {
  let t: TestServer;
  let admin: string;
  let viewer: string;
  let operator: string;
  let certs: TestCertificates;
  let starttls: SmtpSink;
  let implicitTls: SmtpSink;
  let plain: SmtpSink;
  let hook: WebhookReceiver;
  let catalog: Catalog;

  beforeAll(async () => {
    certs = await makeCertificates();
    [starttls, implicitTls, plain, hook] = await Promise.all([
      SmtpSink.start({ mode: 'starttls', certificates: certs, users: { mailer: PASSWORD } }),
      SmtpSink.start({ mode: 'tls', certificates: certs, users: { mailer: PASSWORD } }),
      SmtpSink.start({ mode: 'plain' }),
      WebhookReceiver.start(),
    ]);
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    viewer = await createUser(t.api, admin, 'vera', 'viewer');
    operator = await createUser(t.api, admin, 'otto', 'operator');
    catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
  });
  afterAll(async () => {
    await catalog?.close();
    await t?.destroy();
    await Promise.all([starttls?.close(), implicitTls?.close(), plain?.close(), hook?.close()]);
  });

  const api = <T>(method: string, p: string, body?: unknown, token = admin) => t.api.request<T>(method, p, body, { token });

  const smtp = (over: Partial<NonNullable<UpdateNotificationSettings['smtp']>> = {}) => ({
    host: '127.0.0.1',
    port: starttls.port,
    security: 'starttls' as const,
    username: 'mailer',
    from: 'vplus@example.com',
    trustedCa: certs.caCert,
    ...over,
  });
  const settings = (over: Partial<UpdateNotificationSettings> = {}): UpdateNotificationSettings => ({
    smtp: smtp({ password: PASSWORD }),
    webhook: { url: hook.url, secret: WEBHOOK_SECRET },
    rules: [
      { events: ['task.failed', 'policy.failed'], channel: 'email', recipients: ['ops@example.com', 'oncall@example.com'] },
      { events: ['report.daily'], channel: 'email', recipients: ['boss@example.com'] },
      { events: ['task.failed', 'policy.missed'], channel: 'webhook', recipients: [] },
    ],
    dailyReport: { enabled: true, time: '07:30', timeZone: 'Europe/Berlin' },
    ...over,
  });

  it('starts with nothing set up', async () => {
    const res = await api<NotificationSettings>('GET', '/api/notifications/settings');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ smtp: null, webhook: null, rules: [], dailyReport: { enabled: false, time: '07:00' } });
    expect(res.body.dailyReport.timeZone.length).toBeGreaterThan(0);
  });

  it('lets only administrators read or change the settings and send tests', async () => {
    for (const token of [viewer, operator]) {
      expect((await api('GET', '/api/notifications/settings', undefined, token)).status).toBe(403);
      expect((await api('PATCH', '/api/notifications/settings', settings(), token)).status).toBe(403);
      expect((await api('POST', '/api/notifications/test-email', { to: 'x@example.com' }, token)).status).toBe(403);
      expect((await api('POST', '/api/notifications/test-webhook', {}, token)).status).toBe(403);
      expect((await api('POST', '/api/notifications/daily-report', {}, token)).status).toBe(403);
    }
    expect((await api('GET', '/api/notifications/settings', undefined, '')).status).toBe(401);
  });

  it('answers invalid settings with 400 naming the field, and keeps the old ones', async () => {
    const cases: [UpdateNotificationSettings | Record<string, unknown>, string, RegExp][] = [
      [settings({ rules: [{ events: ['task.failed'], channel: 'email', recipients: ['not-an-address'] }] }), 'rules.0.recipients.0', /e-mail address/],
      [settings({ rules: [{ events: ['task.failed'], channel: 'email', recipients: [] }] }), 'rules.0.recipients', /at least one recipient/],
      [settings({ rules: [{ events: [], channel: 'webhook', recipients: [] }] }), 'rules.0.events', /at least one event/],
      [settings({ webhook: { url: 'ftp://files.example.com/hook' } }), 'webhook.url', /http/],
      [settings({ smtp: smtp({ port: 70000 }) }), 'smtp.port', /./],
      [settings({ smtp: smtp({ trustedCa: 'not a certificate' }) }), 'smtp.trustedCa', /PEM/],
      [settings({ dailyReport: { enabled: true, time: '25:00' } }), 'dailyReport.time', /HH:MM/],
      [settings({ dailyReport: { enabled: true, time: '07:00', timeZone: 'Mars/Olympus_Mons' } }), 'dailyReport.timeZone', /time zone/],
      [settings({ smtp: null }), 'rules.0.channel', /e-mail is not set up/],
      [settings({ webhook: null, rules: [{ events: ['task.failed'], channel: 'webhook', recipients: [] }] }), 'rules.0.channel', /webhook/],
      [settings({ rules: [{ events: ['task.failed'], channel: 'email', recipients: ['ops@example.com'] }] }), 'dailyReport.enabled', /no rule sends it/],
    ];
    for (const [body, field, message] of cases) {
      const res = await api<{ error: string; message: string; field?: string }>('PATCH', '/api/notifications/settings', body);
      expect({ field, status: res.status }).toEqual({ field, status: 400 });
      expect(res.body.field).toBe(field);
      expect(res.body.message).toMatch(message);
    }
    expect((await api<NotificationSettings>('GET', '/api/notifications/settings')).body.smtp).toBeNull();
  });

  it('saves the settings, keeps the password encrypted and never returns it', async () => {
    const res = await api<NotificationSettings>('PATCH', '/api/notifications/settings', settings());
    expect(res.status).toBe(200);
    expect(res.body.smtp).toMatchObject({ host: '127.0.0.1', port: starttls.port, security: 'starttls', username: 'mailer', from: 'vplus@example.com', passwordSet: true });
    expect(res.body.webhook).toEqual({ url: hook.url, secretSet: true });
    expect(res.body.rules).toHaveLength(3);
    expect(res.body.dailyReport).toEqual({ enabled: true, time: '07:30', timeZone: 'Europe/Berlin' });
    const read = await api<NotificationSettings>('GET', '/api/notifications/settings');
    expect(read.body).toEqual(res.body);
    for (const text of [res.text, read.text]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(WEBHOOK_SECRET);
    }
    // At rest: sealed, not the plain text.
    const rows = await catalog.query<{ name: string; ciphertext: string }>("SELECT name, ciphertext FROM secrets WHERE name LIKE 'notifications:%'");
    expect(rows.map((r) => r.name).sort()).toEqual(['notifications:smtp-password', 'notifications:webhook-secret']);
    for (const r of rows) {
      expect(r.ciphertext).not.toContain(PASSWORD);
      expect(r.ciphertext).not.toContain(WEBHOOK_SECRET);
    }
    const stored = await catalog.query<{ value: string }>("SELECT value FROM settings WHERE name = 'notifications'");
    expect(String(stored[0]!.value)).not.toContain(PASSWORD);

    // Saving again without the password keeps it.
    const again = await api<NotificationSettings>('PATCH', '/api/notifications/settings', settings({ smtp: smtp(), webhook: { url: hook.url } }));
    expect(again.body.smtp?.passwordSet).toBe(true);
    expect(again.body.webhook?.secretSet).toBe(true);

    const audit = await api<AuditPage>('GET', '/api/audit?action=notifications.update');
    expect(audit.body.entries.length).toBe(2);
    expect(audit.body.entries[0]).toMatchObject({ actor: 'admin', target: 'settings:notifications' });
    expect(audit.body.entries[0]!.details).toMatchObject({ email: `127.0.0.1:${starttls.port} (starttls)`, webhook: new URL(hook.url).origin });
    expect(JSON.stringify(audit.body)).not.toContain(PASSWORD);
    expect(JSON.stringify(audit.body)).not.toContain(WEBHOOK_SECRET);
    expect(JSON.stringify(audit.body)).not.toContain('/hooks/vplus');
  });

  it('changes only the parts it is given', async () => {
    const before = (await api<NotificationSettings>('GET', '/api/notifications/settings')).body;
    const res = await api<NotificationSettings>('PATCH', '/api/notifications/settings', { dailyReport: { enabled: true, time: '06:15' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ ...before, dailyReport: { enabled: true, time: '06:15', timeZone: 'Europe/Berlin' } });
    // Taking the daily report out of every rule while it is on would send it nowhere.
    const orphan = await api<{ field: string }>('PATCH', '/api/notifications/settings', { rules: [{ events: ['task.failed'], channel: 'webhook' }] });
    expect(orphan.status).toBe(400);
    expect(orphan.body.field).toBe('dailyReport.enabled');
    expect((await api<NotificationSettings>('PATCH', '/api/notifications/settings', { dailyReport: { enabled: true, time: '07:30' } })).status).toBe(200);
  });

  it('sends a test e-mail over STARTTLS with a login, trusting the CA given in the settings', async () => {
    starttls.clear();
    const res = await api<NotificationTestResult>('POST', '/api/notifications/test-email', { to: 'admin@example.com' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.response).toMatch(/^250/);
    expect(res.body.accepted).toEqual(['admin@example.com']);
    const mail = await starttls.next();
    expect(mail).toMatchObject({ from: 'vplus@example.com', to: ['admin@example.com'], secure: true, user: 'mailer' });
    expect(mail.subject).toBe(`[vPlus] Test message from ${os.hostname()}`);
    expect(mail.headers.from).toContain('vplus@example.com');
    expect(mail.headers.to).toBe('admin@example.com');
    expect(mail.text).toContain(`sent by admin`);
    expect(mail.text).toContain('notifications reach you');
    expect(mail.text).not.toContain(PASSWORD);
  });

  it('tests unsaved settings: implicit TLS, and plain SMTP without a login', async () => {
    const tls = await api<NotificationTestResult>('POST', '/api/notifications/test-email', {
      to: 'tls@example.com',
      smtp: smtp({ port: implicitTls.port, security: 'tls', password: PASSWORD }),
    });
    expect(tls.status, tls.text).toBe(200);
    expect(await implicitTls.next()).toMatchObject({ to: ['tls@example.com'], secure: true, user: 'mailer' });

    const open = await api<NotificationTestResult>('POST', '/api/notifications/test-email', {
      to: 'plain@example.com',
      smtp: { host: '127.0.0.1', port: plain.port, security: 'none', username: null, from: 'backup@example.com', trustedCa: null },
    });
    expect(open.status, open.text).toBe(200);
    expect(await plain.next()).toMatchObject({ from: 'backup@example.com', to: ['plain@example.com'], secure: false, user: undefined });
    // Nothing was saved by testing.
    expect((await api<NotificationSettings>('GET', '/api/notifications/settings')).body.smtp?.port).toBe(starttls.port);
  });

  it('uses the stored password only for the saved server and username', async () => {
    const res = await api<{ message: string; field: string }>('POST', '/api/notifications/test-email', {
      to: 'x@example.com',
      smtp: smtp({ port: implicitTls.port, security: 'tls' }),
    });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('smtp.password');
    expect(res.body.message).toMatch(/enter the password/);
    // Same server, port and user as saved: the stored password is used.
    const same = await api<NotificationTestResult>('POST', '/api/notifications/test-email', { to: 'same@example.com', smtp: smtp() });
    expect(same.status, same.text).toBe(200);
  });

  it('reports the SMTP server’s own refusal of a wrong password (502), and an untrusted certificate', async () => {
    const wrong = await api<{ error: string; message: string }>('POST', '/api/notifications/test-email', { to: 'x@example.com', smtp: smtp({ password: 'not-the-password' }) });
    expect(wrong.status).toBe(502);
    expect(wrong.body.error).toBe('SMTP_FAILED');
    expect(wrong.body.message).toMatch(/refused the login/);
    expect(wrong.body.message).toContain('535');
    expect(wrong.body.message).toContain('Invalid username or password');
    expect(wrong.text).not.toContain('not-the-password');

    const untrusted = await api<{ message: string }>('POST', '/api/notifications/test-email', { to: 'x@example.com', smtp: smtp({ trustedCa: null, password: PASSWORD }) });
    expect(untrusted.status).toBe(502);
    expect(untrusted.body.message).toMatch(/certificate/i);
    expect(untrusted.body.message).toMatch(/Trusted CA/);

    const refused = await api<{ message: string }>('POST', '/api/notifications/test-email', { to: 'x@example.com', smtp: smtp({ port: await closedPort(), security: 'none', username: null }) });
    expect(refused.status).toBe(502);
    expect(refused.body.message).toMatch(/could not connect .*connection refused/);

    const audit = await api<AuditPage>('GET', '/api/audit?action=notifications.test-email');
    expect(audit.body.entries.some((e) => String(e.details?.result).includes('535'))).toBe(true);
    expect(JSON.stringify(audit.body)).not.toContain(PASSWORD);
  });

  it('posts a signed test event to the webhook, and reports a failing receiver', async () => {
    const res = await api<NotificationTestResult>('POST', '/api/notifications/test-webhook', {});
    expect(res.status, res.text).toBe(200);
    expect(res.body.response).toBe('HTTP 204 No Content');
    const post = await hook.next();
    expect(post.headers['content-type']).toContain('application/json');
    expect(post.headers['x-vplus-event']).toBe('test');
    const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(post.body).digest('hex')}`;
    expect(post.headers['x-vplus-signature']).toBe(expected);
    expect(post.json).toMatchObject({ event: 'test', server: os.hostname() });
    expect(String(post.json.text)).toContain('sent by admin');

    // Unsaved URL and no secret: unsigned.
    hook.posts.length = 0;
    const unsigned = await api<NotificationTestResult>('POST', '/api/notifications/test-webhook', { url: `${hook.url}?other=1`, secret: null });
    expect(unsigned.status).toBe(200);
    expect((await hook.next()).headers['x-vplus-signature']).toBeUndefined();

    hook.status = 500;
    try {
      const broken = await api<{ error: string; message: string }>('POST', '/api/notifications/test-webhook', {});
      expect(broken.status).toBe(502);
      expect(broken.body.error).toBe('WEBHOOK_FAILED');
      expect(broken.body.message).toContain('HTTP 500');
      expect(broken.body.message).toContain('receiver is broken today');
      // The URL's path can be a secret of its own: messages name only the origin.
      expect(broken.body.message).not.toContain('/hooks/vplus');
    } finally {
      hook.status = 204;
    }
    const bad = await api<{ field: string }>('POST', '/api/notifications/test-webhook', { url: 'file:///etc/passwd' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('url');
  });

  it('removes the password and the secret when asked, and turns channels off', async () => {
    const res = await api<NotificationSettings>('PATCH', '/api/notifications/settings', {
      smtp: smtp({ password: null }),
      webhook: null,
      rules: [{ events: ['report.daily'], channel: 'email', recipients: ['boss@example.com'] }],
      dailyReport: { enabled: false, time: '07:30' },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.smtp?.passwordSet).toBe(false);
    expect(res.body.webhook).toBeNull();
    expect(await catalog.query("SELECT name FROM secrets WHERE name LIKE 'notifications:%'")).toEqual([]);
    const noHook = await api<{ message: string }>('POST', '/api/notifications/test-webhook', {});
    expect(noHook.status).toBe(409);
    expect(noHook.body.message).toMatch(/no webhook/);
  });
});
