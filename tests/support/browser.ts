import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { requireChromium } from './requirements.js';

/** SHA-256 of the certificate's public key (SPKI), base64: what Chromium's SPKI allow-list takes. */
export async function spkiHash(url: string): Promise<string> {
  const pem = await new Promise<string>((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false }, (res) => {
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.resume();
      resolve(`-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64')}\n-----END CERTIFICATE-----\n`);
    });
    req.on('error', reject);
  });
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * Debian's Chromium driven by playwright-core. The server's self-signed
 * certificate is trusted by pinning its public key, not by ignoring errors.
 */
export async function launchChromium(serverUrl: string): Promise<Browser> {
  const executablePath = requireChromium();
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      `--ignore-certificate-errors-spki-list=${await spkiHash(serverUrl)}`,
    ],
  });
}

export function requireBuiltUi(root: string): string {
  const dir = path.join(root, 'dist', 'renderer');
  if (!fs.existsSync(path.join(dir, 'index.html'))) throw new Error(`the admin UI is not built in ${dir}; run "npm run build" first`);
  return dir;
}

/** Fills in the sign-in page and submits it, whatever the server answers. */
export async function submitSignIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in through the sign-in page and waits for the dashboard. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await submitSignIn(page, username, password);
  await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor({ timeout: 20_000 });
}
