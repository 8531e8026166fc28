/**
 * Checks a destination path on this node before it is used: exists, is a directory,
 * writable, free space, and whether a repository is already there. Used when an admin adds
 * a destination.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { LAYOUT, repositoryConfigSchema } from './format.js';

export interface DestinationCheck {
  path: string;
  exists: boolean;
  isDirectory: boolean;
  writable: boolean;
  freeBytes: number | null;
  totalBytes: number | null;
  /** A repository found there (id and whether it is encrypted), or null. */
  repository: { id: string; encrypted: boolean } | null;
  /** Why it cannot be used, in a sentence; null when it can. */
  problem: string | null;
}

export async function checkDestination(dir: string): Promise<DestinationCheck> {
  const abs = path.resolve(dir);
  const out: DestinationCheck = {
    path: abs,
    exists: false,
    isDirectory: false,
    writable: false,
    freeBytes: null,
    totalBytes: null,
    repository: null,
    problem: null,
  };
  try {
    const st = await fsp.stat(abs);
    out.exists = true;
    out.isDirectory = st.isDirectory();
  } catch (err) {
    out.problem = `${abs} does not exist (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path and that the share is mounted`;
    return out;
  }
  if (!out.isDirectory) {
    out.problem = `${abs} is not a directory`;
    return out;
  }
  const probe = path.join(abs, `.vplus-probe-${randomBytes(6).toString('hex')}`);
  try {
    await fsp.writeFile(probe, 'probe', { flag: 'wx' });
    await fsp.unlink(probe);
    out.writable = true;
  } catch (err) {
    out.problem = `${abs} is not writable by this node (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  try {
    const fsStats = await fsp.statfs(abs);
    out.freeBytes = fsStats.bavail * fsStats.bsize;
    out.totalBytes = fsStats.blocks * fsStats.bsize;
  } catch (err) {
    // Free space is informative only (some network filesystems do not report it).
    out.freeBytes = null;
    if (out.problem === null && (err as NodeJS.ErrnoException).code === 'EACCES') out.problem = `${abs} cannot be inspected`;
  }
  try {
    const raw = await fsp.readFile(path.join(abs, LAYOUT.config), 'utf8');
    const parsed = repositoryConfigSchema.safeParse(JSON.parse(raw));
    if (parsed.success) out.repository = { id: parsed.data.id, encrypted: parsed.data.encryption !== null };
  } catch (err) {
    // No config (a new destination) is the normal case; anything else shows up when opening.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') out.repository = null;
  }
  return out;
}
