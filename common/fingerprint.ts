/**
 * Server certificate fingerprints are SHA-256 digests. Users paste them with or
 * without colons and in any case; we compare the canonical form.
 */
export function normalizeFingerprint(input: string): string {
  const hex = input.trim().replace(/^sha256[:/]/i, '').replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(`"${input}" is not a SHA-256 fingerprint (64 hex digits, colons optional)`);
  }
  return hex;
}

/** Colon-separated upper-case hex, the form browsers and openssl show. */
export function formatFingerprint(input: string): string {
  return normalizeFingerprint(input).toUpperCase().match(/.{2}/g)!.join(':');
}

export function fingerprintsEqual(a: string, b: string): boolean {
  return normalizeFingerprint(a) === normalizeFingerprint(b);
}
