import { X509Certificate } from 'node:crypto';
import { normalizeFingerprint } from '../../common/fingerprint.js';

/** Results a certificate verify proc passes to Chromium. */
export const CERT_ACCEPT = 0;
export const CERT_REJECT = -2;
export const CERT_USE_CHROMIUM_RESULT = -3;

export interface CertificateLike {
  /** PEM of the leaf certificate. */
  data: string;
  /** Chromium's form: "sha256/<base64 of the SHA-256 of the DER>". */
  fingerprint: string;
}

export interface ServerPin {
  hostname: string;
  /** Any accepted spelling of the SHA-256. */
  fingerprint: string;
}

/** "sha256/<base64>" → lower-case hex; null for anything else. */
export function electronFingerprintToHex(fingerprint: string): string | null {
  const match = /^sha256\/([A-Za-z0-9+/]+={0,2})$/.exec(fingerprint.trim());
  if (!match?.[1]) return null;
  const bytes = Buffer.from(match[1], 'base64');
  return bytes.length === 32 ? bytes.toString('hex') : null;
}

/**
 * The SHA-256 of the certificate the server presented, as lower-case hex:
 * hashed from its PEM when there is one (the bytes themselves), else taken
 * from Chromium's fingerprint string.
 */
export function certificateSha256(cert: CertificateLike): string | null {
  if (cert.data) {
    try {
      return normalizeFingerprint(new X509Certificate(cert.data).fingerprint256);
    } catch {
      // Not parseable PEM; fall back to Chromium's own fingerprint below.
    }
  }
  return electronFingerprintToHex(cert.fingerprint);
}

/**
 * The verify proc's decision: the embedded server's host is accepted only
 * with the pinned certificate (self-signed, so Chromium's own check would
 * fail); every other host gets Chromium's normal verification.
 */
export function verifyCertificate(
  request: { hostname: string; certificate: CertificateLike },
  pin: ServerPin,
): number {
  if (request.hostname.toLowerCase() !== pin.hostname.toLowerCase()) return CERT_USE_CHROMIUM_RESULT;
  const seen = certificateSha256(request.certificate);
  return seen !== null && seen === normalizeFingerprint(pin.fingerprint) ? CERT_ACCEPT : CERT_REJECT;
}
