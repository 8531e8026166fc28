import fs from 'node:fs/promises';
import { NOT_A_RECOVERY_KEY, RECOVERY_KEY_BEGIN, RECOVERY_KEY_END, RECOVERY_KEY_MAX_LENGTH, readRecoveryKeyBlock } from '../common/recovery-key.js';
import { UsageError, errorMessage } from './errors.js';

/**
 * The recovery key in FILE (--recovery-key-file): the file the UI downloads, the block as the
 * CLI printed it, or one typed back from paper. Only the block is returned, so the words
 * around it in a downloaded file never travel. What is plainly not a key is a usage error here;
 * the node checks the checksum and that the key is the repository's.
 */
export async function readRecoveryKeyFile(file: string): Promise<string> {
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new UsageError(`--recovery-key-file ${file} is not a file`);
    if (stat.size > RECOVERY_KEY_MAX_LENGTH) throw new UsageError(`--recovery-key-file ${file} is larger than ${RECOVERY_KEY_MAX_LENGTH / 1024} KiB; is it a vPlus recovery key?`);
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorMessage(err);
    throw new UsageError(`cannot read the recovery key file ${file}: ${why}`);
  }
  if (readRecoveryKeyBlock(text) === null) throw new UsageError(`--recovery-key-file ${file}: ${NOT_A_RECOVERY_KEY}`);
  const begin = text.indexOf(RECOVERY_KEY_BEGIN);
  const end = text.indexOf(RECOVERY_KEY_END, begin + 1) + RECOVERY_KEY_END.length;
  return `${text.slice(begin, end)}\n`;
}
