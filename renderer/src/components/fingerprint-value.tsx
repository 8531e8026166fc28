import { displayFingerprint } from '../utils/format.js';
import { CopyableCode } from './copyable-code.js';

/** Admins paste this into node enrollment and compare it with browser warnings, so it is copyable. */
export function FingerprintValue({ fingerprint }: { fingerprint: string }) {
  return <CopyableCode value={displayFingerprint(fingerprint)} copyLabel="Copy fingerprint" testId="tls-fingerprint" />;
}
