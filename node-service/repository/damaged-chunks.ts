/**
 * The repository's list of known-bad chunks (`state/damaged-chunks.json`, FORMAT.md
 * "Damaged chunks"). Verify writes it; a backup reads it at start and never deduplicates
 * against a listed chunk: it reads that data from the source again and re-stores the chunk
 * under the same id, which heals every older backup that references it.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { isErrno, toRepositoryError } from './errors.js';
import type { RepositoryFileSystem } from './file-system.js';
import { CHUNK_ID_RE, LAYOUT } from './format.js';

export type DamageKind = 'missing' | 'corrupt' | 'unreadable';

export interface DamagedChunk {
  kind: DamageKind;
  detail: string;
  /** When a verify first found it (ISO 8601). */
  foundAt: string;
}

const FileSchema = z.object({
  format: z.literal('vplus-damaged-chunks'),
  version: z.literal(1),
  updatedAt: z.string(),
  chunks: z.record(
    z.string().regex(CHUNK_ID_RE),
    z.object({ kind: z.enum(['missing', 'corrupt', 'unreadable']), detail: z.string(), foundAt: z.string() }),
  ),
});

interface Where {
  repoPath: string;
  fs: RepositoryFileSystem;
}

function fileOf(repoPath: string): string {
  return path.join(repoPath, LAYOUT.damagedChunks);
}

/**
 * Reads the list. A missing file is an empty list; an unreadable one is logged by the
 * caller and treated as empty too (the next verify rewrites it): dedup then trusts the
 * chunk files, as it did before the list existed.
 */
export async function readDamagedChunks(where: Where): Promise<{ chunks: Map<string, DamagedChunk>; unreadable: boolean }> {
  let raw: Buffer;
  try {
    raw = await where.fs.readFile(fileOf(where.repoPath));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { chunks: new Map(), unreadable: false };
    throw toRepositoryError(err, where.repoPath, 'reading the list of damaged chunks');
  }
  let parsed;
  try {
    parsed = FileSchema.safeParse(JSON.parse(raw.toString('utf8')));
  } catch {
    return { chunks: new Map(), unreadable: true };
  }
  if (!parsed.success) return { chunks: new Map(), unreadable: true };
  return { chunks: new Map(Object.entries(parsed.data.chunks)), unreadable: false };
}

/** Replaces the list (temp, fsync, rename); an empty list removes the file. */
export async function writeDamagedChunks(where: Where, chunks: ReadonlyMap<string, DamagedChunk>, nowMs: number): Promise<void> {
  const file = fileOf(where.repoPath);
  try {
    if (chunks.size === 0) {
      await where.fs.unlink(file).catch((err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err;
      });
    } else {
      const doc: z.infer<typeof FileSchema> = {
        format: 'vplus-damaged-chunks',
        version: 1,
        updatedAt: new Date(nowMs).toISOString(),
        chunks: Object.fromEntries([...chunks.entries()].sort(([a], [b]) => a.localeCompare(b))),
      };
      await where.fs.writeFileAtomic(file, Buffer.from(JSON.stringify(doc)));
    }
    await where.fs.syncDir(path.dirname(file));
  } catch (err) {
    throw toRepositoryError(err, where.repoPath, 'recording damaged chunks');
  }
}
