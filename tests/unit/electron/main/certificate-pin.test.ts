import { X509Certificate, createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CERT_ACCEPT,
  CERT_REJECT,
  CERT_USE_CHROMIUM_RESULT,
  certificateSha256,
  electronFingerprintToHex,
  verifyCertificate,
} from '../../../../electron/main/certificate-pin.js';
import { ensureServerTls } from '../../../../electron/server/security/certificates.js';

let pem: string;
let hex: string;
let chromiumFingerprint: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-pin-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const tls = await ensureServerTls(path.join(dir, 'tls'));
  // The leaf is the first certificate of the chain.
  pem = tls.cert.slice(0, tls.cert.indexOf('-----END CERTIFICATE-----') + '-----END CERTIFICATE-----'.length);
  const der = new X509Certificate(pem).raw;
  hex = createHash('sha256').update(der).digest('hex');
  chromiumFingerprint = `sha256/${createHash('sha256').update(der).digest('base64')}`;
  expect(tls.fingerprint.replace(/:/g, '').toLowerCase()).toBe(hex);
});

describe("Chromium's fingerprint form", () => {
  it('converts sha256/<base64> to hex', () => {
    expect(electronFingerprintToHex(chromiumFingerprint)).toBe(hex);
  });

  it.each(['', 'sha1/AAAA', 'sha256/not base64!', `sha256/${Buffer.alloc(20).toString('base64')}`])('rejects %j', (fp) => {
    expect(electronFingerprintToHex(fp)).toBeNull();
  });
});

describe('certificateSha256', () => {
  it('hashes the PEM when there is one', () => {
    expect(certificateSha256({ data: pem, fingerprint: 'garbage' })).toBe(hex);
  });

  it("falls back to Chromium's fingerprint without PEM", () => {
    expect(certificateSha256({ data: '', fingerprint: chromiumFingerprint })).toBe(hex);
  });
});

describe('verifyCertificate', () => {
  const pin = (): { hostname: string; fingerprint: string } => ({ hostname: 'localhost', fingerprint: hex.toUpperCase() });

  it('accepts the pinned certificate for the server host', () => {
    expect(verifyCertificate({ hostname: 'localhost', certificate: { data: pem, fingerprint: chromiumFingerprint } }, pin())).toBe(
      CERT_ACCEPT,
    );
    expect(verifyCertificate({ hostname: 'LOCALHOST', certificate: { data: '', fingerprint: chromiumFingerprint } }, pin())).toBe(
      CERT_ACCEPT,
    );
  });

  it('rejects any other certificate for the server host', () => {
    const other = `sha256/${Buffer.alloc(32, 7).toString('base64')}`;
    expect(verifyCertificate({ hostname: 'localhost', certificate: { data: '', fingerprint: other } }, pin())).toBe(CERT_REJECT);
    expect(verifyCertificate({ hostname: 'localhost', certificate: { data: '', fingerprint: '' } }, pin())).toBe(CERT_REJECT);
  });

  it("leaves other hosts to Chromium's own verification, even with the pinned certificate", () => {
    expect(
      verifyCertificate({ hostname: 'example.com', certificate: { data: pem, fingerprint: chromiumFingerprint } }, pin()),
    ).toBe(CERT_USE_CHROMIUM_RESULT);
  });
});
