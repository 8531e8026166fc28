/**
 * Object lock for one backup (FORMAT.md, "Object stores", "Object lock"): every object a
 * backup needs stays locked at least as long as its manifest, and the manifest at least
 * `days` after the commit. Cheap by design: all objects of a backup share one retain-until
 * date E, recorded as the manifest's own retention. The next backup of the chain HEADs (one
 * GetObjectRetention) its previous manifest: while that date is at least `days` (plus a
 * margin for the backup's duration) ahead, the chunks it reuses from there need nothing and
 * new chunks get the same date; otherwise every reused chunk is extended, in one bulk pass,
 * to now + 1.5 × days, which then holds for the next half period. So each chunk of a chain is
 * touched about once every days/2, not at every backup.
 */
import * as path from 'node:path';
import { runBounded } from '../concurrency.js';
import { chunkRelPath, forEachChunkObject, type BackupManifest, type DiskManifest } from '../format.js';
import type { ManifestStore } from '../manifest-store.js';
import type { S3FileSystem } from './s3-file-system.js';

const DAY_MS = 86_400_000;
/** Room for the backup's own duration: a plan made at the start still holds at the commit. */
export const RETENTION_SLACK_MS = 6 * 3_600_000;
/** Extension requests in flight. */
const EXTEND_PARALLELISM = 32;

export interface RetentionOutcome {
  /** The manifest's retain-until (ms); every chunk of the backup is locked at least until then. */
  retainUntilMs: number;
  /** Chunks whose retention was extended (PutObjectRetention). */
  extended: number;
}

export class RetentionPlan {
  private untilMs: number | undefined;
  private previousId: string | null = null;
  /** Chunks of the previous backup, known locked until at least `untilMs`. */
  private readonly covered = new Set<string>();
  private bulk = false;
  extended = 0;

  constructor(
    private readonly store: S3FileSystem,
    private readonly repoPath: string,
    private readonly manifests: ManifestStore,
    private readonly days: number,
    private readonly now: () => number,
  ) {}

  /** Called as each disk starts (with its previous backup, if incremental): the first call fixes the date. */
  async begin(previous: BackupManifest | null): Promise<void> {
    if (this.untilMs === undefined) {
      const period = this.days * DAY_MS;
      const now = this.now();
      const previousUntil = previous ? await this.store.retentionOfFile(this.manifests.fileOf(previous.id)) : null;
      if (previous && previousUntil !== null && previousUntil >= now + period + RETENTION_SLACK_MS) {
        this.untilMs = previousUntil;
        this.previousId = previous.id;
      } else {
        this.untilMs = now + Math.round(period * 1.5);
        this.bulk = previous !== null;
      }
    }
    if (previous && previous.id === this.previousId) {
      for (const d of previous.disks) forEachChunkObject(d, (id) => this.covered.add(id));
    }
  }

  /** The retain-until date of objects this backup writes. */
  get retainUntilMs(): number {
    if (this.untilMs === undefined) this.untilMs = this.now() + Math.round(this.days * DAY_MS * 1.5);
    return this.untilMs;
  }

  /**
   * Before the manifest: extends what must be extended and returns the manifest's date. A
   * backup that outlived its margin moves everything it references to a new date.
   */
  async finish(disks: readonly DiskManifest[], written: ReadonlySet<string>): Promise<RetentionOutcome> {
    const period = this.days * DAY_MS;
    let until = this.retainUntilMs;
    const now = this.now();
    const all = new Set<string>();
    for (const d of disks) forEachChunkObject(d, (id) => all.add(id));
    let todo: string[];
    if (until < now + period) {
      until = now + Math.round(period * 1.5);
      this.untilMs = until;
      todo = [...all];
    } else {
      todo = [...all].filter((id) => !written.has(id) && !this.covered.has(id));
    }
    await runBounded(todo, EXTEND_PARALLELISM, async (id) => {
      await this.store.extendRetention(path.join(this.repoPath, chunkRelPath(id)), until);
      this.extended++;
    });
    return { retainUntilMs: until, extended: this.extended };
  }

  /** Whether this backup extends every reused chunk (its chain's date ran short). */
  get extendsAll(): boolean {
    return this.bulk;
  }
}
