/**
 * The emulator's own CA and server certificate, made in memory at start (nothing written to
 * disk), and RSA application certificates for the certificate-credential (client assertion)
 * flow. Uses @peculiar/x509 like electron/server/security/certificates.ts.
 */
import { KeyObject, X509Certificate, createHash, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export interface EmulatorTls {
  /** PEM of the CA that signed the server certificate: what clients must trust. */
  caPem: string;
  key: string;
  /** Server certificate followed by the CA certificate. */
  cert: string;
}

export interface AppCertificate {
  /** PKCS#8 PEM of the RSA private key, as MSAL's clientCertificate.privateKey takes it. */
  privateKeyPem: string;
  certPem: string;
  /** Upper-case hex SHA-1 and SHA-256 of the certificate's DER, as the portal shows them. */
  thumbprintSha1: string;
  thumbprintSha256: string;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;

function useWebCrypto(): void {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Date.now() - 5 * 60_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 86_400_000) };
}

function pemKey(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** A fresh CA and a certificate for 127.0.0.1, ::1 and localhost signed by it. */
export async function makeEmulatorTls(): Promise<EmulatorTls> {
  useWebCrypto();
  const subtle = webcrypto.subtle;
  const caKeys = await subtle.generateKey(EC, true, ['sign', 'verify']);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex'),
    name: 'CN=Graph emulator test CA, O=vPlus tests',
    ...validity(2),
    signingAlgorithm: EC,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await subtle.generateKey(EC, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString('hex'),
    subject: 'CN=localhost, O=vPlus tests',
    issuer: caCert.subject,
    ...validity(2),
    signingAlgorithm: EC,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const caPem = caCert.toString('pem') + '\n';
  return { caPem, key: pemKey(keys.privateKey), cert: cert.toString('pem') + '\n' + caPem };
}

/** A self-signed RSA certificate an app registration can hold as its credential. */
export async function makeAppCertificate(subject = 'CN=vPlus backup app'): Promise<AppCertificate> {
  useWebCrypto();
  const keys = await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex'),
    name: subject,
    ...validity(365),
    signingAlgorithm: RSA,
    keys,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const certPem = cert.toString('pem') + '\n';
  const der = Buffer.from(cert.rawData);
  return {
    privateKeyPem: pemKey(keys.privateKey),
    certPem,
    thumbprintSha1: createHash('sha1').update(der).digest('hex').toUpperCase(),
    thumbprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
  };
}

/** The thumbprints of a PEM certificate, for matching a client assertion's x5t / x5t#S256. */
export function certificateThumbprints(certPem: string): { sha1: Buffer; sha256: Buffer; publicKey: KeyObject } {
  const c = new X509Certificate(certPem);
  return { sha1: createHash('sha1').update(c.raw).digest(), sha256: createHash('sha256').update(c.raw).digest(), publicKey: c.publicKey };
}
