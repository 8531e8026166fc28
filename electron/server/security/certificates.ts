import { KeyObject, X509Certificate, randomBytes, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { formatFingerprint } from '../../../common/fingerprint.js';
import { writeFileAtomic } from './atomic-file.js';

export interface ServerTls {
  key: string;
  /** Server certificate followed by the CA certificate. */
  cert: string;
  caCert: string;
  /** SHA-256 of the server certificate, colon-separated upper-case hex. */
  fingerprint: string;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * The server's own CA and certificate, generated on first start and kept in
 * the data dir. Clients pin the server certificate's fingerprint, so nothing
 * depends on a public CA. Regenerated only when missing or about to expire.
 */
export async function ensureServerTls(tlsDir: string, extraNames: string[] = []): Promise<ServerTls> {
  const files = {
    caKey: path.join(tlsDir, 'ca.key'),
    caCert: path.join(tlsDir, 'ca.crt'),
    key: path.join(tlsDir, 'server.key'),
    cert: path.join(tlsDir, 'server.crt'),
  };
  await fs.promises.mkdir(tlsDir, { recursive: true, mode: 0o700 });
  const existing = await readIfValid(files);
  if (existing) return existing;

  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const subtle = webcrypto.subtle;
  const now = new Date(Date.now() - 5 * 60_000); // tolerate small clock skew
  const caKeys = (await subtle.generateKey(ALG, true, ['sign', 'verify']));
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex'),
    name: `CN=vPlus server CA (${os.hostname()}), O=vPlus`,
    notBefore: now,
    notAfter: addYears(now, 20),
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = (await subtle.generateKey(ALG, true, ['sign', 'verify']));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString('hex'),
    subject: `CN=${os.hostname()}, O=vPlus`,
    issuer: caCert.subject,
    notBefore: now,
    notAfter: addYears(now, 10),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(subjectAltNames(extraNames)),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });

  await writeFileAtomic(files.caKey, pemKey(caKeys.privateKey), 0o600);
  await writeFileAtomic(files.caCert, caCert.toString('pem') + '\n', 0o644);
  await writeFileAtomic(files.key, pemKey(keys.privateKey), 0o600);
  await writeFileAtomic(files.cert, cert.toString('pem') + '\n', 0o644);
  const result = await readIfValid(files);
  if (!result) throw new Error(`could not write a usable TLS certificate to ${tlsDir}`);
  return result;
}

async function readIfValid(files: { caCert: string; key: string; cert: string }): Promise<ServerTls | undefined> {
  try {
    const [key, cert, caCert] = await Promise.all([files.key, files.cert, files.caCert].map((f) => fs.promises.readFile(f, 'utf8')));
    const parsed = new X509Certificate(cert!);
    const renewBefore = Date.now() + 30 * 24 * 3600_000;
    if (new Date(parsed.validTo).getTime() < renewBefore) return undefined;
    return { key: key!, cert: cert! + caCert!, caCert: caCert!, fingerprint: formatFingerprint(parsed.fingerprint256) };
  } catch {
    return undefined;
  }
}

function subjectAltNames(extra: string[]): x509.JsonGeneralName[] {
  const dns = new Set(['localhost', os.hostname()]);
  const ips = new Set(['127.0.0.1', '::1']);
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal) ips.add(a.address.split('%')[0]!);
  }
  for (const name of extra) (/^[\d.]+$|:/.test(name) ? ips : dns).add(name);
  return [...[...dns].map((value) => ({ type: 'dns' as const, value })), ...[...ips].map((value) => ({ type: 'ip' as const, value }))];
}

function pemKey(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

function addYears(d: Date, years: number): Date {
  const r = new Date(d);
  r.setFullYear(r.getFullYear() + years);
  return r;
}
