/**
 * The copy journal (FORMAT.md "Copies"): what an interrupted copy had sent, so the next run
 * skips it without reading the source again.
 */
import { hkdfSync } from 'node:crypto';
import * as path from 'node:path';
import { isErrno, toRepositoryError } from './errors.js';
import { TEMP_PREFIX } from './file-system.js';
import { BACKUP_ID_RE, CHUNK_ID_RE, LAYOUT } from './format.js';
import type { CopyAccess } from './repository-context.js';
import { SealedFileError, seal, unseal } from './packs/sealed.js';

/** Journal entries written per segment at most, and the longest a new entry waits for a segment. */
export const JOURNAL_BATCH = 256;
export const JOURNAL_INTERVAL_MS = 5_000;
/** A journal of another copy of the same source left this long is abandoned and removed. */
const JOURNAL_MAX_AGE_MS = 7 * 24 * 3_600_000;
const JOURNAL_MAGIC = 'VPCJ';
const JOURNAL_VERSION = 1;
const JOURNAL_SUFFIX = '.journal';
const ID_BYTES = 32;

/**
 * What an interrupted copy had sent, in the target (FORMAT.md "Copies"):
 * `state/copy-<source repository id>-<backup id>.<segment>.journal`, each segment a sealed
 * list of (source id, target id) pairs, written whole (temp + rename) as chunks complete.
 * Removed when the copy commits.
 */
export class CopyJournal {
  private pending: Buffer[] = [];
  private lastFlushMs: number;
  private nextSegment: number;
  private readonly segments: string[];
  private flushing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dst: CopyAccess,
    private readonly prefix: string,
    private readonly label: string,
    private readonly key: Buffer | null,
    /** Source id → target id, from earlier runs. */
    readonly earlier: Map<string, string>,
    segments: string[],
    nextSegment: number,
    private readonly every: { batch: number; intervalMs: number },
  ) {
    this.segments = segments;
    this.nextSegment = nextSegment;
    this.lastFlushMs = dst.clock.now();
  }

  private static names(sourceRepoId: string, backupId: string): { prefix: string; label: string } {
    return { prefix: `copy-${sourceRepoId}-`, label: `copy-journal:${sourceRepoId}:${backupId}` };
  }

  private static key(dst: CopyAccess): Buffer | null {
    if (!dst.keys) return null;
    return Buffer.from(hkdfSync('sha256', dst.keys.manifestKey, Buffer.from(dst.repositoryId, 'utf8'), 'vplus/copy/v1/journal', 32));
  }

  /** Journal files in state/ of copies from `sourceRepoId`: backup id and segment of each. */
  private static async list(dst: CopyAccess, sourceRepoId: string): Promise<{ name: string; backupId: string; segment: number }[]> {
    const { prefix } = CopyJournal.names(sourceRepoId, '');
    let names: string[];
    try {
      names = await dst.fs.readdir(path.join(dst.repoPath, LAYOUT.state));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw toRepositoryError(err, dst.repoPath, 'listing copy journals');
    }
    const out: { name: string; backupId: string; segment: number }[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(JOURNAL_SUFFIX) || name.startsWith(TEMP_PREFIX)) continue;
      const rest = name.slice(prefix.length, -JOURNAL_SUFFIX.length);
      const dot = rest.lastIndexOf('.');
      const backupId = rest.slice(0, dot);
      const segment = Number(rest.slice(dot + 1));
      if (dot > 0 && BACKUP_ID_RE.test(backupId) && Number.isSafeInteger(segment) && segment >= 0) out.push({ name, backupId, segment });
    }
    return out;
  }

  static async open(dst: CopyAccess, sourceRepoId: string, backupId: string, log: CopyAccess['logger'], every: { batch: number; intervalMs: number }): Promise<CopyJournal> {
    const { prefix, label } = CopyJournal.names(sourceRepoId, backupId);
    const key = CopyJournal.key(dst);
    const stateDir = path.join(dst.repoPath, LAYOUT.state);
    const all = await CopyJournal.list(dst, sourceRepoId);
    const earlier = new Map<string, string>();
    const segments: string[] = [];
    let next = 0;
    for (const j of all) {
      const file = path.join(stateDir, j.name);
      if (j.backupId !== backupId) {
        // Another copy from the same source: left over once that backup is in the target, or abandoned long ago.
        await CopyJournal.dropIfStale(dst, file, j.backupId, log);
        continue;
      }
      segments.push(file);
      next = Math.max(next, j.segment + 1);
      try {
        const plain = unseal(await dst.fs.readFile(file), JOURNAL_MAGIC, JOURNAL_VERSION, `${label}:${j.segment}`, key);
        if (plain.length % (2 * ID_BYTES) !== 0) throw new SealedFileError('length is not a whole number of entries');
        for (let o = 0; o < plain.length; o += 2 * ID_BYTES) {
          earlier.set(plain.toString('hex', o, o + ID_BYTES), plain.toString('hex', o + ID_BYTES, o + 2 * ID_BYTES));
        }
      } catch (err) {
        // A journal only saves reading: without it the chunks are read again (and found in the target).
        log.warn({ err, file }, 'a copy journal cannot be read; its chunks are read from the source again');
      }
    }
    if (earlier.size > 0) log.info({ entries: earlier.size }, 'resuming an interrupted copy');
    return new CopyJournal(dst, prefix + backupId, label, key, earlier, segments, next, every);
  }

  /** Removes every journal segment of the copy of `backupId` (it is in the target). */
  static async discard(dst: CopyAccess, sourceRepoId: string, backupId: string, log: CopyAccess['logger']): Promise<void> {
    for (const j of await CopyJournal.list(dst, sourceRepoId)) {
      if (j.backupId === backupId) await CopyJournal.unlink(dst, path.join(dst.repoPath, LAYOUT.state, j.name), log);
    }
  }

  private static async dropIfStale(dst: CopyAccess, file: string, backupId: string, log: CopyAccess['logger']): Promise<void> {
    try {
      const done = await dst.manifests.exists(backupId);
      const old = dst.clock.now() - (await dst.fs.stat(file)).mtimeMs > JOURNAL_MAX_AGE_MS;
      if (done || old) await CopyJournal.unlink(dst, file, log);
    } catch (err) {
      log.warn({ err, file }, 'could not check an old copy journal');
    }
  }

  private static async unlink(dst: CopyAccess, file: string, log: CopyAccess['logger']): Promise<void> {
    try {
      await dst.fs.unlink(file);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) log.warn({ err, file }, 'could not remove a copy journal');
    }
  }

  add(sourceId: string, targetId: string): void {
    if (!CHUNK_ID_RE.test(sourceId) || !CHUNK_ID_RE.test(targetId)) return;
    this.pending.push(Buffer.from(sourceId + targetId, 'hex'));
  }

  /** Writes a segment when enough entries or time have gathered. */
  async maybeFlush(): Promise<void> {
    if (this.pending.length >= this.every.batch || (this.pending.length > 0 && this.dst.clock.now() - this.lastFlushMs >= this.every.intervalMs)) await this.flush();
  }

  /** Writes the pending entries as a new segment (one writer at a time). */
  flush(): Promise<void> {
    const run = this.flushing.then(async () => {
      if (this.pending.length === 0) return;
      const entries = this.pending;
      this.pending = [];
      this.lastFlushMs = this.dst.clock.now();
      const segment = this.nextSegment++;
      const file = path.join(this.dst.repoPath, LAYOUT.state, `${this.prefix}.${segment}${JOURNAL_SUFFIX}`);
      const sealed = seal(JOURNAL_MAGIC, JOURNAL_VERSION, `${this.label}:${segment}`, Buffer.concat(entries), this.key);
      try {
        await this.dst.fs.writeFileAtomic(file, sealed);
      } catch (err) {
        this.pending = entries.concat(this.pending);
        throw toRepositoryError(err, this.dst.repoPath, 'writing the copy journal');
      }
      this.segments.push(file);
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /** The copy committed: the journal has no use any more. */
  async remove(): Promise<void> {
    await this.flushing;
    this.pending = [];
    for (const file of this.segments.splice(0)) await CopyJournal.unlink(this.dst, file, this.dst.logger);
  }
}
