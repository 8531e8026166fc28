import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Destination } from '../../common/api/destinations.js';
import { startCephGateway, type CephGateway } from '../support/ceph-rgw.js';
import { SHOTS, startSignedInE2e, type SignedInE2e } from '../support/e2e-setup.js';

const NODE = 's3-e2e';

/**
 * Add destination → S3-compatible, in Chromium against a real server, node and Ceph gateway:
 * Check with a wrong secret key shows the node's reason under the secret key field; with the
 * right one Check says the bucket is ready, the destination is added, and its page shows the
 * bucket, the endpoint and the lock.
 */
describe('S3 destinations in the UI, in Chromium', () => {
  let e2e: SignedInE2e;
  let page: Page;
  let gw: CephGateway;
  const bucket = `e2e-s3-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    gw = await startCephGateway();
    await gw.createBucket(bucket, { objectLock: true });
    e2e = await startSignedInE2e({ server: { nodeHeartbeatSeconds: 1 }, node: NODE, page: { viewport: { width: 1280, height: 1000 } } });
    page = e2e.page;
  }, 120_000);
  afterAll(async () => {
    await e2e?.close();
    await gw?.stop();
  });

  it('shows a wrong secret key under its field, then adds the bucket with object lock', async () => {
    await page.goto(`${e2e.t.server.url}/destinations`);
    await page.getByRole('button', { name: 'Add destination' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add destination' });
    /** A switch below the fold (under the sticky buttons when scrolled to by Playwright): toggled where it is. */
    const toggle = async (field: string): Promise<void> => {
      const input = dialog.locator(`input[role="switch"][data-path="${field}"]`);
      const before = await input.isChecked();
      // Mantine hides the input under its track: a DOM click toggles it as a person's would.
      await input.dispatchEvent('click');
      await expect.poll(() => input.isChecked()).toBe(!before);
    };
    await expect.poll(() => dialog.getByLabel('Node', { exact: true }).inputValue(), { timeout: 20_000 }).toBe(NODE);
    await dialog.getByLabel('Name', { exact: true }).fill('offsite');
    await dialog.getByText('S3-compatible', { exact: true }).click();
    await dialog.getByLabel('Endpoint URL', { exact: true }).fill(gw.endpoint);
    await dialog.getByLabel('Bucket', { exact: true }).fill(bucket);
    await dialog.getByLabel('Prefix', { exact: true }).fill('vplus');
    await dialog.getByLabel('Access key', { exact: true }).fill(gw.accessKeyId);
    await dialog.getByLabel('Secret key', { exact: true }).fill('not-the-secret-key');
    // Below the S3 fields: the dialog's body scrolls under its sticky buttons.
    await toggle('encrypt');

    await dialog.getByRole('button', { name: 'Check' }).click();
    const secret = dialog.getByLabel('Secret key', { exact: true });
    // Under the secret key's own field (its wrapper holds the label, the input and the error).
    const secretField = dialog.locator('.mantine-InputWrapper-root', { has: page.getByText('Secret key', { exact: true }) });
    await secretField.getByText(/The secret key does not match the access key \S+ at 127\.0\.0\.1:\d+; check the secret key/).waitFor({ timeout: 60_000 });
    expect(await dialog.locator('.mantine-InputWrapper-root', { has: page.getByText('Bucket', { exact: true }) }).locator('.mantine-InputWrapper-error').count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 's3-destination-wrong-secret.png') });

    await secret.fill(gw.secretAccessKey);
    await toggle('s3.lock');
    await dialog.getByLabel('Days', { exact: true }).fill('7');
    await dialog.getByRole('button', { name: 'Check' }).click();
    await dialog.getByTestId('s3-check-ok').waitFor({ timeout: 60_000 });
    expect(await dialog.getByTestId('s3-check-ok').textContent()).toMatch(/no repository there yet/);
    expect(await secretField.locator('.mantine-InputWrapper-error').count()).toBe(0);

    await dialog.getByRole('button', { name: 'Add destination' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 60_000 });
    const [added] = (await e2e.api<Destination[]>('GET', '/api/destinations')).body;
    expect(added).toMatchObject({ name: 'offsite', kind: 's3', s3: { bucket, prefix: 'vplus', lock: { mode: 'governance', days: 7 } } });

    await page.goto(`${e2e.t.server.url}/destinations/${added!.id}`);
    const place = page.getByTestId('s3-place');
    await place.waitFor();
    const text = (await place.textContent()) ?? '';
    expect(text).toContain(gw.endpoint);
    expect(text).toContain(bucket);
    expect(text).toContain('Governance, 7 days');
    await page.screenshot({ path: path.join(SHOTS, 's3-destination-details.png') });
  });
});
