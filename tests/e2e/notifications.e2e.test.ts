import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationSettings } from '../../common/api/notifications.js';
import { SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';
import { makeCertificates, SmtpSink, WebhookReceiver } from '../integration/notifications/mail-sinks.js';

const PASSWORD = 'smtp-e2e-password';

/** Settings → Notifications in a real Chromium: set up e-mail, test it against a real SMTP server, add a rule, save. */
describe('notification settings in the admin UI', () => {
  let e2e: SignedInE2e;
  let page: Page;
  let smtp: SmtpSink;
  let hook: WebhookReceiver;
  let caCert: string;

  beforeAll(async () => {
    const certs = await makeCertificates();
    caCert = certs.caCert;
    [smtp, hook] = await Promise.all([SmtpSink.start({ mode: 'starttls', certificates: certs, users: { mailer: PASSWORD } }), WebhookReceiver.start()]);
    e2e = await startSignedInE2e();
    page = e2e.page;
  });
  afterAll(async () => {
    await e2e?.close();
    await Promise.all([smtp?.close(), hook?.close()]);
  });

  const visible = (text: string | RegExp) => page.getByText(text).first().isVisible();

  it('sets up e-mail, shows the SMTP server’s refusal and success under the test button, and saves a rule', async () => {
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByRole('tab', { name: 'Notifications' }).click();
    await page.getByLabel('Send e-mail').check({ force: true });
    await page.getByLabel('SMTP server').fill('127.0.0.1');
    await page.getByLabel('Port', { exact: true }).fill(String(smtp.port));
    await page.getByLabel('Username', { exact: true }).fill('mailer');
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByLabel('From address').fill('vplus@example.com');
    await page.getByLabel('Trusted CA (optional)').fill(caCert);
    await page.getByLabel('Send a test e-mail to').fill('admin@example.com');

    await page.getByRole('button', { name: 'Send test e-mail' }).click();
    const result = page.getByTestId('test-email-result');
    await expect.poll(() => result.textContent(), { timeout: 20_000 }).toMatch(/Not sent.*refused the login: 535 Invalid username or password/);

    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Send test e-mail' }).click();
    await expect.poll(() => result.textContent(), { timeout: 20_000 }).toMatch(/Sent.*The server answered: 250/);
    const mail = await smtp.next();
    expect(mail).toMatchObject({ to: ['admin@example.com'], user: 'mailer', secure: true });

    await page.getByLabel('Post to a webhook').check({ force: true });
    await page.getByLabel('URL', { exact: true }).fill(hook.url);
    await page.getByRole('button', { name: 'Send test webhook' }).click();
    await expect.poll(() => page.getByTestId('test-webhook-result').textContent(), { timeout: 20_000 }).toMatch(/HTTP 204/);
    expect((await hook.next()).json.event).toBe('test');

    await page.getByRole('button', { name: 'Add e-mail rule' }).click();
    const recipients = page.getByTestId('rule-0').getByLabel('Recipients');
    await recipients.fill('ops@example.com');
    await recipients.press('Enter');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => visible('Notification settings saved.'), { timeout: 20_000 }).toBe(true);

    const saved = await e2e.api<NotificationSettings>('GET', '/api/notifications/settings');
    expect(saved.body.smtp).toMatchObject({ host: '127.0.0.1', port: smtp.port, security: 'starttls', username: 'mailer', from: 'vplus@example.com', passwordSet: true });
    expect(saved.body.webhook).toEqual({ url: hook.url, secretSet: false });
    expect(saved.body.rules).toEqual([{ events: ['task.failed', 'policy.missed', 'policy.failed'], channel: 'email', recipients: ['ops@example.com'] }]);

    // After a reload the password is not shown, only that one is stored.
    await page.reload();
    await expect.poll(() => visible('A password is stored. Leave this empty to keep it.'), { timeout: 20_000 }).toBe(true);
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    expect(await page.content()).not.toContain(PASSWORD);
    await page.screenshot({ path: path.join(SHOTS, 'notifications.png'), fullPage: true });
  });
});
