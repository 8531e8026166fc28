/**
 * Backs up a libvirt VM into a repository in two phases, `begin` (the EXPORT task) and
 * `store` (STORE): a pull-mode backup job (running VM) or qemu-nbd (shut-off VM) exports each
 * disk over NBD at one point in time; we read only allocated, non-zero blocks (full) or only the
 * blocks the checkpoint's dirty bitmap marks (incremental), and the repository reuses the
 * previous backup's chunks for everything else. The manifest is committed before the job
 * ends, so the new checkpoint becomes the base only for a backup that exists.
 */
import { randomBytes } from 'node:crypto';
import { incrementalReadBytes, type BackupManifest, type ByteRange, type IncrementalChanges, type Repository } from '../../repository/index.js';
import { checkChain, offlineBitmaps, type BitmapProbe, type ChainFacts, type PreviousBackup } from './chain-check.js';
import { ChildProcessRunner, ChildProcessStarter, type CommandRunner, type ProcessStarter } from './command-runner.js';
import { backupCandidates, checkpointBitmapDisks, parseDomainXml, type DomainDiskXml } from './domain-xml.js';
import { KvmError } from './errors.js';
import type { ExportDraft, ExportOwner } from './export-record.js';
import type { ExportTransport, KvmExport } from './kvm-export.js';
import { NbdClient, type Extent } from './nbd-client.js';
import { currentProcess } from '../../repository/process-identity.js';
import { PullBackupJob } from './pull-backup-job.js';
import { QemuNbdExport } from './qemu-nbd-export.js';
import { Virsh, type Outcome } from './virsh.adapter.js';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface KvmBackupOptions {
  /** Domain name or UUID. */
  domain: string;
  repository: Repository;
  /** 'auto': incremental from `previous` when its chain is intact, else full with a warning. */
  mode: 'auto' | 'full';
  previous?: PreviousBackup | null;
  /** Disk targets (vdb) to leave out. */
  excludeDisks?: readonly string[];
  /** Directory for the NBD socket and scratch files (needs room for blocks the guest rewrites during the backup). */
  workDir: string;
  /**
   * Bytes read from the VM's disks so far, of the bytes this backup is to read (allocated ones for
   * a full, dirty ones for an incremental; never the disks' size, so a bar and its label count
   * only what is really read).
   */
  onProgress?: (bytesRead: number, bytesToRead: number, disk: string) => void;
  signal?: AbortSignal;
  log?: LogFn;
}

/** EXPORT: what to expose; the repository is only read (the chain check loads the previous manifest). */
export type KvmBeginOptions = Pick<KvmBackupOptions, 'domain' | 'repository' | 'mode' | 'previous' | 'excludeDisks' | 'workDir' | 'signal' | 'log'>;

/** STORE: where to write an open export. */
export type KvmStoreOptions = Pick<KvmBackupOptions, 'repository' | 'onProgress' | 'signal' | 'log'>;

export interface KvmDiskResult {
  name: string;
  size: number;
  /** Bytes the dirty bitmap marked (incremental) or the allocation map reported as data (full). */
  changedBytes: number;
  /** Bytes requested from the NBD export. */
  bytesRead: number;
}

export interface KvmBackupResult {
  backupId: string;
  type: 'full' | 'incremental';
  /** The checkpoint the next incremental starts from; null when a disk cannot carry one (raw). */
  checkpoint: string | null;
  bytesRead: number;
  /** Data bytes received over NBD (holes the server reports are not transferred). */
  bytesTransferred: number;
  disks: KvmDiskResult[];
  warnings: string[];
  manifest: BackupManifest;
}

const ZERO = 2; // base:allocation: reads as zeros
const DIRTY = 1; // qemu:dirty-bitmap: changed since the checkpoint

export class KvmBackup {
  private readonly runner: CommandRunner;
  private readonly starter: ProcessStarter;
  private readonly virsh: Virsh;
  private readonly owner: ExportOwner;

  /** @param deps.owner whom export records name (the node and this process); default this process, node ''. */
  constructor(deps: { runner?: CommandRunner; starter?: ProcessStarter; virsh?: Virsh; uri?: string; owner?: ExportOwner } = {}) {
    this.runner = deps.runner ?? new ChildProcessRunner();
    this.starter = deps.starter ?? new ChildProcessStarter();
    this.virsh = deps.virsh ?? new Virsh(this.runner, deps.uri);
    this.owner = deps.owner ?? { node: '', ...currentProcess() };
  }

  /** A whole backup in one call: `begin` then `store`. */
  async run(o: KvmBackupOptions): Promise<KvmBackupResult> {
    const exp = await this.begin(o);
    return this.store(exp, o);
  }

  /**
   * Exposes the VM's disks at one point in time. A running VM gets a pull-mode backup job with
   * a new checkpoint; a shut-off VM's disk files are served read-only by qemu-nbd, incremental
   * through the previous checkpoint's qcow2 bitmap (libvirt cannot create checkpoints for a
   * shut-off VM, so that checkpoint, which keeps recording, stays the base).
   */
  async begin(o: KvmBeginOptions): Promise<KvmExport> {
    const log: LogFn = o.log ?? (() => undefined);
    const warnings: string[] = [];
    const warn = (m: string): void => {
      warnings.push(m);
      log('warn', m);
    };
    // One virsh process asks everything the verdicts below need (each process costs more than
    // its commands); the previous manifest loads meanwhile. The state's verdict and errors come
    // first, then the XML's, as when they were asked one after another.
    const previous = o.mode === 'auto' ? (o.previous ?? null) : null;
    const manifest = previous ? o.repository.loadManifest(previous.backupId) : null;
    manifest?.catch(() => undefined); // judged by the chain check, or not needed after an earlier error
    const facts = await this.virsh.domainFacts(o.domain, previous?.checkpoint ?? null);
    if (!facts.state.ok) throw facts.state.error;
    const state = facts.state.value;
    const running = state === 'running' || state === 'paused';
    if (!running && state !== 'shut off') {
      throw new KvmError('KVM_DOMAIN_STATE', `virtual machine ${o.domain} is ${state}; back it up when it is running or shut off`);
    }
    if (!facts.liveXml.ok) throw facts.liveXml.error;
    if (!facts.inactiveXml.ok) throw facts.inactiveXml.error;
    const live = parseDomainXml(facts.liveXml.value);
    const domainXml = facts.inactiveXml.value;
    const exclude = new Set(o.excludeDisks ?? []);
    for (const x of exclude) if (!live.disks.some((d) => d.target === x)) warn(`excluded disk ${x} does not exist in ${live.name}`);
    const disks = backupCandidates(live.disks).filter((d) => !exclude.has(d.target));
    if (disks.length === 0) throw new KvmError('KVM_NO_DISKS', `virtual machine ${live.name} has no disk to back up`);
    const others = live.disks.filter((d) => !disks.includes(d)).map((d) => d.target);
    const trackable = disks.every((d) => d.format === 'qcow2');
    if (!trackable) warn(`disk ${disks.filter((d) => d.format !== 'qcow2').map((d) => d.target).join(', ')} of ${live.name} is not qcow2: changes cannot be tracked, every backup is full`);

    let base: PreviousBackup | null = null;
    if (previous && manifest && trackable) {
      const verdict = await checkChain(
        {
          manifest,
          checkpoint: checkpointFound(facts.checkpointXml, previous.checkpoint),
          bitmaps: running ? runningBitmaps(facts.checkpointSizedXml, previous.checkpoint) : offlineBitmaps(this.runner, disks),
        },
        disks,
        previous,
      );
      if (verdict.ok) base = previous;
      else warn(`taking a full backup instead of an incremental: ${verdict.reason}`);
    }
    o.signal?.throwIfAborted();

    const id = randomBytes(12).toString('hex');
    // Recorded before it starts, so a crash at any later point leaves a record the restarted node acts on.
    const record: ExportDraft = { id, uri: this.virsh.uri, domain: live.uuid, owner: this.owner };
    let transport: ExportTransport;
    let checkpoint: string | null;
    if (running) {
      const begin = (incremental: string | null): Promise<PullBackupJob> =>
        PullBackupJob.begin(this.virsh, {
          domain: o.domain,
          include: disks.map((d) => d.target),
          exclude: others,
          incremental,
          workDir: o.workDir,
          checkpoint: trackable,
          qemuOwner: live.qemuOwner,
          record,
        });
      let job: PullBackupJob;
      try {
        job = await begin(base?.checkpoint ?? null);
      } catch (err) {
        if (!base) throw err;
        // libvirt validates the bitmaps itself; believe it over our pre-check.
        warn(`taking a full backup instead of an incremental: libvirt refused checkpoint ${base.checkpoint} (${(err as Error).message})`);
        base = null;
        job = await begin(null);
      }
      transport = { dir: job.dir, socket: () => job.socket, dirtyContext: (t) => (base ? `qemu:dirty-bitmap:backup-${t}` : null), stop: (served) => job.stop(served), end: (ok) => job.end(ok) };
      checkpoint = job.checkpoint;
      log('info', `backup job of ${live.name} started (${base ? `incremental since ${base.checkpoint}` : 'full'}), new checkpoint ${job.checkpoint ?? 'none'}`);
    } else {
      const start = (bitmap: string | null): Promise<QemuNbdExport> => QemuNbdExport.start(this.starter, { disks, bitmap, workDir: o.workDir, record });
      let served: QemuNbdExport;
      try {
        served = await start(base?.checkpoint ?? null);
      } catch (err) {
        if (!base) throw err;
        warn(`taking a full backup instead of an incremental: qemu-nbd cannot use bitmap ${base.checkpoint} (${(err as Error).message})`);
        base = null;
        served = await start(null);
      }
      transport = { dir: served.dir, socket: (t) => served.socket(t), dirtyContext: () => served.dirtyContext(), stop: () => served.stop(), end: () => served.end() };
      // The base checkpoint keeps recording, so it covers every change after this backup too.
      checkpoint = base?.checkpoint ?? null;
      log('info', `disks of shut-off ${live.name} exported read-only (${base ? `incremental since ${base.checkpoint}` : 'full'})`);
    }
    try {
      // The export's own sizes: what STORE will read.
      const sized: KvmExport['disks'] = [];
      for (const d of disks) {
        const c = await NbdClient.connect(transport.socket(d.target), d.target);
        sized.push({ ...d, size: c.size });
        await c.close();
      }
      o.signal?.throwIfAborted();
      return {
        id,
        kind: running ? 'pull' : 'offline',
        uri: this.virsh.uri,
        vm: { name: live.name, uuid: live.uuid },
        type: base ? 'incremental' : 'full',
        disks: sized,
        domainXml,
        base,
        checkpoint,
        warnings,
        createdAt: Date.now(),
        transport,
      };
    } catch (err) {
      for (const p of await transport.end(false)) log('warn', p);
      throw err;
    }
  }

  /**
   * Reads an export into the repository and ends it. The manifest is committed before the
   * export ends, so a new checkpoint becomes the base only for a backup that exists; on any
   * failure the writer is aborted and the export ended as failed (its new checkpoint deleted).
   * What does not depend on each other runs at once: the repository's start (lease, GC
   * epoch) with the previous manifest and the NBD plans; the commit with stopping the export.
   */
  async store(exp: KvmExport, o: KvmStoreOptions): Promise<KvmBackupResult> {
    const log: LogFn = o.log ?? (() => undefined);
    const warnings = [...exp.warnings];
    const clients: NbdClient[] = [];
    let ok = false;
    const report = (problems: readonly string[]): void => {
      for (const p of problems) {
        warnings.push(p);
        log('warn', p);
      }
    };
    try {
      const previousManifest = exp.base ? this.loadPrevious(o.repository, exp.base.backupId) : Promise.resolve(null);
      previousManifest.catch(() => undefined); // awaited below unless the connections fail first
      for (const d of exp.disks) {
        const dirty = exp.transport.dirtyContext(d.target);
        clients.push(await NbdClient.connect(exp.transport.socket(d.target), d.target, ['base:allocation', ...(dirty ? [dirty] : [])]));
      }
      const started = o.repository.startBackup({
        group: exp.vm.uuid,
        source: {
          type: exp.type,
          vm: { name: exp.vm.name, uuid: exp.vm.uuid },
          domainXml: exp.domainXml,
          checkpoint: exp.checkpoint,
          disks: exp.disks.map((d, i) => ({ name: d.target, path: d.path, format: d.format, size: clients[i]!.size })),
        },
      });
      // What each disk is to read, known before the first byte moves: the bar's total.
      const planned = (async (): Promise<DiskPlan[]> => {
        const previous = await previousManifest;
        const plans: DiskPlan[] = [];
        for (const [i, d] of exp.disks.entries()) plans.push(await this.planDisk(clients[i]!, previous, exp.transport.dirtyContext(d.target)));
        return plans;
      })();
      const [writerOf, plansOf] = await Promise.allSettled([started, planned]);
      if (writerOf.status === 'rejected') throw writerOf.reason;
      const writer = writerOf.value;
      const results: KvmDiskResult[] = [];
      let read = 0;
      try {
        if (plansOf.status === 'rejected') throw plansOf.reason;
        const plans = plansOf.value;
        const previous = await previousManifest;
        const toRead = plans.reduce((s, p) => s + p.toRead, 0);
        for (const [i, d] of exp.disks.entries()) {
          o.signal?.throwIfAborted();
          // Reads may round up to whole chunks: the total grows rather than the bar passing its end.
          const r = await this.storeDisk(writer, d, clients[i]!, plans[i]!, o.signal, (bytes) => o.onProgress?.(read + bytes, Math.max(toRead, read + bytes), d.target));
          results.push(r);
          read += r.bytesRead;
          if (i === exp.disks.length - 1) o.onProgress?.(read, read, d.target);
          log('info', `disk ${d.target}: ${r.changedBytes} bytes ${previous ? 'changed' : 'allocated'}, ${r.bytesRead} read`);
        }
        o.signal?.throwIfAborted();
        // Every byte is read: the export can stop while the repository commits. The checkpoint
        // is kept or deleted only after the commit (end below), so the chain stays consistent.
        // (Its problems are reported by end.) One small read proves the export still answers:
        // a libvirt job needs no virsh round trip to tell it is ours before it is aborted.
        const bytesTransferred = clients.reduce((s, c) => s + c.bytesRead, 0);
        const served = await (clients[0]?.read(Buffer.alloc(512), 0).then(() => true, () => false) ?? false);
        await Promise.all(clients.splice(0).map((c) => c.close()));
        const [committed] = await Promise.allSettled([writer.commit(), exp.transport.stop(served)]);
        if (committed.status === 'rejected') throw committed.reason;
        const manifest = committed.value;
        ok = true;
        if (writer.healedChunks.length > 0) {
          log('info', `stored ${writer.healedChunks.length} chunk(s) again that verify had found damaged; older backups that use them are whole again (verify confirms it)`);
        }
        if (writer.damagedChunksFound.length > 0) {
          const w = `${writer.damagedChunksFound.length} chunk(s) of the previous backup ${exp.base?.backupId ?? ''} are damaged (${writer.damagedChunksFound
            .slice(0, 3)
            .map((c) => c.slice(0, 12))
            .join(', ')}…); this backup read that data from the VM instead and is whole, but run verify on the destination to see which older backups are affected`;
          warnings.push(w);
          log('warn', w);
        }
        return {
          backupId: manifest.id,
          type: exp.type,
          checkpoint: exp.checkpoint,
          bytesRead: results.reduce((s, r) => s + r.bytesRead, 0),
          bytesTransferred,
          disks: results,
          warnings,
          manifest,
        };
      } finally {
        if (!ok) await writer.abort();
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      report(await exp.transport.end(ok));
    }
  }

  private async loadPrevious(repository: Repository, backupId: string): Promise<BackupManifest> {
    try {
      return await repository.loadManifest(backupId);
    } catch (err) {
      throw new KvmError('KVM_BACKUP_JOB', `the previous backup ${backupId} this incremental builds on cannot be read (${(err as Error).message}); run the backup again, it will be a full one`);
    }
  }

  /** The extents a disk is to read: allocated ones for a full, dirty ones for an incremental. */
  private async planDisk(nbd: NbdClient, previous: BackupManifest | null, dirtyContext: string | null): Promise<DiskPlan> {
    const allocated = ranges(await nbd.blockStatus('base:allocation'), (f) => (f & ZERO) === 0);
    if (previous && dirtyContext) {
      const dirty = ranges(await nbd.blockStatus(dirtyContext), (f) => (f & DIRTY) !== 0);
      // A partly changed chunk reads its changed ranges (an overlay), another dirty chunk is read
      // whole (storeDisk), unless nothing in it is allocated (the guest zeroed or trimmed it all).
      const prevDisk = previous.disks.find((d) => d.name === nbd.exportName);
      const toRead = prevDisk ? incrementalReadBytes(prevDisk, dirty, allocated, nbd.size) : sum(intersect(dirty, allocated));
      return { allocated, changes: { previous, dirty }, changedBytes: sum(dirty), toRead };
    }
    return { allocated, changes: undefined, changedBytes: sum(allocated), toRead: sum(allocated) };
  }

  private async storeDisk(
    writer: Awaited<ReturnType<Repository['startBackup']>>,
    disk: DomainDiskXml,
    nbd: NbdClient,
    plan: DiskPlan,
    signal: AbortSignal | undefined,
    progress: (bytesRead: number) => void,
  ): Promise<KvmDiskResult> {
    let bytesRead = 0;
    await writer.writeDisk(
      disk.target,
      nbd.size,
      {
        kind: 'random-access',
        allocated: plan.allocated,
        read: async (into, position) => {
          if (signal?.aborted) throw new KvmError('KVM_CANCELLED', 'the backup was cancelled');
          const n = await nbd.read(into, position);
          bytesRead += n;
          return n;
        },
      },
      // The writer's bytesDone counts skipped and reused bytes too; the bar counts reads only.
      // A partly changed chunk is an overlay (its changed ranges read and stored); one changed
      // too much for that is read whole from the export: measured cheaper than rebuilding it from
      // the previous backup (FORMAT.md "Partly changed chunks"), and the repository may be remote.
      { changes: plan.changes, partialChunks: 'read', onProgress: () => progress(bytesRead) },
    );
    return { name: disk.target, size: nbd.size, changedBytes: plan.changedBytes, bytesRead };
  }
}

/** Whether libvirt answered the checkpoint's XML (it has the checkpoint), from `Virsh.domainFacts`. */
function checkpointFound(xml: Outcome<string> | null, checkpoint: string): ChainFacts['checkpoint'] {
  if (xml?.ok) return { exists: true };
  const why = xml ? xml.error.message : 'it was not asked for';
  if (!xml || /checkpoint not found|no domain checkpoint/i.test(why)) return { exists: false, reason: `checkpoint ${checkpoint} no longer exists in libvirt` };
  return { exists: false, reason: `libvirt cannot tell whether checkpoint ${checkpoint} still exists (${why})` };
}

/** A running VM's bitmaps, from QEMU through libvirt: a disk whose bitmap has a size has it. */
function runningBitmaps(sized: Outcome<string> | null, checkpoint: string): BitmapProbe {
  return () => {
    if (!sized) return Promise.resolve([]);
    if (!sized.ok) return Promise.reject(new KvmError('KVM_BACKUP_JOB', `the bitmaps of checkpoint ${checkpoint} cannot be read from libvirt (${sized.error.message})`));
    return Promise.resolve(checkpointBitmapDisks(sized.value));
  };
}

interface DiskPlan {
  allocated: ByteRange[];
  changes: IncrementalChanges | undefined;
  changedBytes: number;
  /** What the disk is expected to read: its data, or its dirty data for an incremental. */
  toRead: number;
}

/** The overlap of two sorted lists of ranges. */
function intersect(a: readonly ByteRange[], b: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const start = Math.max(x.offset, y.offset);
    const end = Math.min(x.offset + x.length, y.offset + y.length);
    if (end > start) out.push({ offset: start, length: end - start });
    if (x.offset + x.length < y.offset + y.length) i++;
    else j++;
  }
  return out;
}

/** Bytes read when every chunk a dirty range touches is read whole, if any of it is allocated. */
function ranges(extents: readonly Extent[], keep: (flags: number) => boolean): ByteRange[] {
  return extents.filter((e) => keep(e.flags)).map((e) => ({ offset: e.offset, length: e.length }));
}

function sum(r: readonly ByteRange[]): number {
  return r.reduce((s, x) => s + x.length, 0);
}
