/**
 * Leases in locks/: backups and verify hold shared leases, garbage collection an exclusive
 * one. Each side writes its own lease file first and then looks for conflicting ones, so
 * of two racing parties at least one sees the other. A lease names its holder's process;
 * one whose process is gone from this very machine is stale at once. Otherwise a lease is
 * refreshed (mtime) while its holder lives, and one not refreshed for `staleMs` is presumed
 * abandoned and ignored.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { Clock } from './clock.js';
import { RepositoryLockedError, isErrno, toRepositoryError } from './errors.js';
import type { RepositoryFileSystem } from './file-system.js';
import { TEMP_PREFIX } from './file-system.js';
import { LAYOUT } from './format.js';
import type { RepositoryLogger } from './logger.js';
import { currentLeaseHolder, holderLiveness } from './process-identity.js';

export type LeaseKind = 'shared' | 'exclusive';
export type LeasePurpose = 'backup' | 'verify' | 'gc';

export interface LeaseInfo {
  id: string;
  kind: LeaseKind;
  purpose: LeasePurpose;
  host: string;
  pid: number;
  /** Boot id and PID namespace of the holder's machine (absent in leases of older versions). */
  machine?: string | null;
  /** The holder's start time in clock ticks since boot, so a recycled pid is not taken for it. */
  startTicks?: number | null;
  createdAt: string;
  /** Free text, e.g. the backup id. */
  detail?: string;
}

export interface LeaseState {
  info: LeaseInfo;
  file: string;
  refreshedMs: number;
  stale: boolean;
  /**
   * Why it is stale: its process is gone from this machine ('holder-gone', certain), or it
   * was not refreshed in time ('expired': the holder may still run, e.g. suspended).
   */
  staleReason?: 'holder-gone' | 'expired';
}

export interface LeaseOptions {
  /** A lease not refreshed for this long is considered abandoned (default 30 min). */
  staleMs: number;
  /** How often a live lease is refreshed (default staleMs / 6). */
  refreshMs: number;
}

export const DEFAULT_LEASE_OPTIONS: LeaseOptions = { staleMs: 30 * 60_000, refreshMs: 5 * 60_000 };

export class Lease {
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  private lastRefreshMs: number;

  constructor(
    readonly info: LeaseInfo,
    private readonly file: string,
    private readonly fs: RepositoryFileSystem,
    private readonly clock: Clock,
    private readonly options: LeaseOptions,
    private readonly logger: RepositoryLogger,
  ) {
    this.lastRefreshMs = clock.now();
    this.timer = setInterval(() => void this.refresh(), options.refreshMs);
    this.timer.unref();
  }

  /** True if the lease went unrefreshed long enough for others to consider it abandoned. */
  get lapsed(): boolean {
    return this.clock.now() - this.lastRefreshMs > this.options.staleMs;
  }

  async refresh(): Promise<void> {
    if (this.released) return;
    const now = this.clock.now();
    try {
      await this.fs.setMtime(this.file, now);
      this.lastRefreshMs = now;
    } catch (err) {
      this.logger.warn({ err, lease: this.info.id }, 'could not refresh repository lease');
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    this.timer = undefined;
    try {
      await this.fs.unlink(this.file);
    } catch (err) {
      // A lease that cannot be removed goes stale and is then ignored; nothing else to do.
      if (!isErrno(err, 'ENOENT')) this.logger.warn({ err, lease: this.info.id }, 'could not remove repository lease');
    }
  }
}

export class LeaseManager {
  private readonly dir: string;

  constructor(
    private readonly repoPath: string,
    private readonly fs: RepositoryFileSystem,
    private readonly clock: Clock,
    private readonly options: LeaseOptions,
    private readonly logger: RepositoryLogger,
  ) {
    this.dir = path.join(repoPath, LAYOUT.locks);
  }

  async acquire(kind: LeaseKind, purpose: LeasePurpose, detail?: string): Promise<Lease> {
    const id = `${kind}-${randomBytes(8).toString('hex')}`;
    const me = currentLeaseHolder();
    const info: LeaseInfo = {
      id,
      kind,
      purpose,
      host: me.host,
      pid: me.pid,
      machine: me.machine,
      startTicks: me.startTicks,
      createdAt: new Date(this.clock.now()).toISOString(),
      ...(detail === undefined ? {} : { detail }),
    };
    const file = path.join(this.dir, `${id}.json`);
    try {
      await this.fs.writeFileAtomic(file, Buffer.from(JSON.stringify(info)));
      await this.fs.setMtime(file, this.clock.now());
      await this.fs.syncDir(this.dir);
    } catch (err) {
      throw toRepositoryError(err, this.repoPath, `taking a ${purpose} lease`);
    }
    const lease = new Lease(info, file, this.fs, this.clock, this.options, this.logger);
    const others = (await this.list()).filter((l) => l.info.id !== id && !l.stale);
    const conflicts = kind === 'exclusive' ? others : others.filter((l) => l.info.kind === 'exclusive');
    if (conflicts.length > 0) {
      await lease.release();
      throw new RepositoryLockedError(this.repoPath, conflicts.map(describe).join('; '));
    }
    return lease;
  }

  async list(): Promise<LeaseState[]> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.dir);
    } catch (err) {
      throw toRepositoryError(err, this.repoPath, 'listing leases');
    }
    const out: LeaseState[] = [];
    const now = this.clock.now();
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith(TEMP_PREFIX)) continue;
      const file = path.join(this.dir, name);
      let refreshedMs: number;
      let raw: Buffer;
      try {
        refreshedMs = (await this.fs.stat(file)).mtimeMs;
        raw = await this.fs.readFile(file);
      } catch (err) {
        // Released between readdir and read: not a lease any more.
        if (isErrno(err, 'ENOENT')) continue;
        throw toRepositoryError(err, this.repoPath, 'reading leases');
      }
      const expired = now - refreshedMs > this.options.staleMs;
      let info: LeaseInfo;
      try {
        info = JSON.parse(raw.toString('utf8')) as LeaseInfo;
      } catch (err) {
        // Garbled: count it as an exclusive lease until it goes stale, the safe assumption.
        this.logger.warn({ err, file }, 'unreadable lease file');
        info = { id: name, kind: 'exclusive', purpose: 'gc', host: '?', pid: 0, createdAt: '?' };
      }
      const gone = holderLiveness(info) === 'dead';
      const staleReason = gone ? 'holder-gone' : expired ? 'expired' : undefined;
      out.push({ info, file, refreshedMs, stale: staleReason !== undefined, ...(staleReason ? { staleReason } : {}) });
    }
    return out;
  }

  /** Removes leases whose holders are gone; returns how many. */
  async removeStale(): Promise<number> {
    let removed = 0;
    for (const l of await this.list()) {
      if (!l.stale) continue;
      try {
        await this.fs.unlink(l.file);
        removed++;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, this.repoPath, 'removing a stale lease');
      }
    }
    return removed;
  }
}

function describe(l: LeaseState): string {
  const what =
    l.info.purpose === 'gc' ? 'garbage collection' : l.info.purpose === 'verify' ? 'a verify' : 'a backup';
  const detail = l.info.detail ? ` ${l.info.detail}` : '';
  return `${what}${detail} is running (since ${l.info.createdAt}, host ${l.info.host}, pid ${l.info.pid})`;
}
