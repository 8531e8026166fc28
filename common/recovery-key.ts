/**
 * The printable recovery key of an encrypted repository, as people handle it: a block from
 * `-----BEGIN VPLUS RECOVERY KEY-----` to `-----END VPLUS RECOVERY KEY-----` naming the
 * repository, then the master key and a 4-byte checksum in hex (FORMAT.md, "Recovery key").
 * This module knows only the block's shape, so the API, the CLI and the UI can refuse what is
 * plainly not a key before it travels; the checksum (SHA-256, over the key and the repository
 * id) is checked where the key is used, on the node (node-service/repository/keys.ts).
 */

export const RECOVERY_KEY_BEGIN = '-----BEGIN VPLUS RECOVERY KEY-----';
export const RECOVERY_KEY_END = '-----END VPLUS RECOVERY KEY-----';

/** Room for the block with the words a downloaded key file puts around it; a key is about 180 characters. */
export const RECOVERY_KEY_MAX_LENGTH = 16 * 1024;

/** What the API and the CLI say about text that is not a recovery key. */
export const NOT_A_RECOVERY_KEY = `not a vPlus recovery key: give the whole block, from ${RECOVERY_KEY_BEGIN} to ${RECOVERY_KEY_END}`;

export interface RecoveryKeyBlock {
  /** The repository the key opens (32 lowercase hex). */
  repositoryId: string;
  /** 72 lowercase hex digits: the 32-byte master key, then its 4-byte checksum. */
  hex: string;
}

const REPOSITORY_LINE = /Repository:\s*([0-9a-f]{32})(?![0-9a-f])/i;

/**
 * The block's parts, wherever it is in `text` (a downloaded key file has a few lines of words
 * before it); null when there is no well-formed block. Tolerant of what paper and e-mail do to
 * it: lines re-wrapped, spaces lost or added, CRLF, upper case.
 */
export function readRecoveryKeyBlock(text: string): RecoveryKeyBlock | null {
  const begin = text.indexOf(RECOVERY_KEY_BEGIN);
  const end = text.indexOf(RECOVERY_KEY_END, begin + 1);
  if (begin < 0 || end < begin) return null;
  const body = text.slice(begin + RECOVERY_KEY_BEGIN.length, end);
  const id = REPOSITORY_LINE.exec(body);
  if (!id?.[1]) return null;
  const hex = body.replace(REPOSITORY_LINE, '').replace(/[\s-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{72}$/.test(hex)) return null;
  return { repositoryId: id[1].toLowerCase(), hex };
}
