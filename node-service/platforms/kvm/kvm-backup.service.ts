/**
 * Backs up a running libvirt VM into a repository: a pull-mode backup job exports each disk
 * over NBD at one point in time; we read only allocated, non-zero blocks (full) or only the
 * blocks the checkpoint's dirty bitmap marks (incremental), and the repository reuses the
 * previous backup's chunks for everything else. The manifest is committed before the job
 * ends, so the new checkpoint becomes the base only for a backup that exists.
 */
import type { BackupManifest, ByteRange, IncrementalChanges, Repository } from '../../repository/index.js';
import { checkChain, type PreviousBackup } from './chain-check.js';
import { ChildProcessRunner, type CommandRunner } from './command-runner.js';
import { backupCandidates, parseDomainXml, type DomainDiskXml } from './domain-xml.js';
import { KvmError } from './errors.js';
import { NbdClient, type Extent } from './nbd-client.js';
import { PullBackupJob } from './pull-backup-job.js';
import { Virsh } from './virsh.adapter.js';

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
  onProgress?: (bytesDone: number, bytesTotal: number, disk: string) => void;
  signal?: AbortSignal;
  log?: LogFn;
}

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
  private readonly virsh: Virsh;

  constructor(deps: { runner?: CommandRunner; virsh?: Virsh; uri?: string } = {}) {
    this.runner = deps.runner ?? new ChildProcessRunner();
    this.virsh = deps.virsh ?? new Virsh(this.runner, deps.uri);
  }

  async run(o: KvmBackupOptions): Promise<KvmBackupResult> {
    const log: LogFn = o.log ?? (() => undefined);
    const warnings: string[] = [];
    const warn = (m: string): void => {
      warnings.push(m);
      log('warn', m);
    };
    const state = await this.virsh.state(o.domain);
    if (state !== 'running' && state !== 'paused') {
      throw new KvmError('KVM_DOMAIN_STATE', `virtual machine ${o.domain} is ${state}; this version backs up running VMs only — start it or wait for offline backup support`);
    }
    const live = parseDomainXml(await this.virsh.dumpXml(o.domain));
    const domainXml = await this.virsh.dumpXml(o.domain, true);
    const exclude = new Set(o.excludeDisks ?? []);
    for (const x of exclude) if (!live.disks.some((d) => d.target === x)) warn(`excluded disk ${x} does not exist in ${live.name}`);
    const disks = backupCandidates(live.disks).filter((d) => !exclude.has(d.target));
    if (disks.length === 0) throw new KvmError('KVM_NO_DISKS', `virtual machine ${live.name} has no disk to back up`);
    const others = live.disks.filter((d) => !disks.includes(d)).map((d) => d.target);
    const trackable = disks.every((d) => d.format === 'qcow2');
    if (!trackable) warn(`disk ${disks.filter((d) => d.format !== 'qcow2').map((d) => d.target).join(', ')} of ${live.name} is not qcow2: changes cannot be tracked, every backup is full`);

    let previous: BackupManifest | null = null;
    if (o.mode === 'auto' && o.previous && trackable) {
      const verdict = await checkChain({ virsh: this.virsh }, o.domain, disks, o.previous, o.repository);
      if (verdict.ok) previous = verdict.manifest;
      else warn(`taking a full backup instead of an incremental: ${verdict.reason}`);
    }
    const begin = (incremental: string | null): Promise<PullBackupJob> =>
      PullBackupJob.begin(this.virsh, {
        domain: o.domain,
        include: disks.map((d) => d.target),
        exclude: others,
        incremental,
        workDir: o.workDir,
        checkpoint: trackable,
        qemuOwner: live.qemuOwner,
      });
    let job: PullBackupJob;
    try {
      job = await begin(previous ? o.previous!.checkpoint : null);
    } catch (err) {
      if (!previous) throw err;
      // libvirt validates the bitmaps itself; believe it over our pre-check.
      warn(`taking a full backup instead of an incremental: libvirt refused checkpoint ${o.previous!.checkpoint} (${(err as Error).message})`);
      previous = null;
      job = await begin(null);
    }
    log('info', `backup job of ${live.name} started (${previous ? `incremental since ${o.previous!.checkpoint}` : 'full'}), new checkpoint ${job.checkpoint ?? 'none'}`);

    const type = previous ? 'incremental' : 'full';
    const clients: NbdClient[] = [];
    let ok = false;
    try {
      for (const d of disks) {
        const contexts = ['base:allocation', ...(previous ? [`qemu:dirty-bitmap:backup-${d.target}`] : [])];
        clients.push(await NbdClient.connect(job.socket, d.target, contexts));
      }
      const total = clients.reduce((s, c) => s + c.size, 0);
      const writer = await o.repository.startBackup({
        group: live.uuid,
        source: {
          type,
          vm: { name: live.name, uuid: live.uuid },
          domainXml,
          checkpoint: job.checkpoint,
          disks: disks.map((d, i) => ({ name: d.target, path: d.path, format: d.format, size: clients[i]!.size })),
        },
      });
      const results: KvmDiskResult[] = [];
      let done = 0;
      try {
        for (const [i, d] of disks.entries()) {
          const r = await this.storeDisk(writer, d, clients[i]!, previous, o.signal, (bytes) => o.onProgress?.(done + bytes, total, d.target));
          results.push(r);
          done += r.size;
          log('info', `disk ${d.target}: ${r.changedBytes} bytes ${previous ? 'changed' : 'allocated'}, ${r.bytesRead} read`);
        }
        const manifest = await writer.commit();
        ok = true;
        return {
          backupId: manifest.id,
          type,
          checkpoint: job.checkpoint,
          bytesRead: results.reduce((s, r) => s + r.bytesRead, 0),
          bytesTransferred: clients.reduce((s, c) => s + c.bytesRead, 0),
          disks: results,
          warnings,
          manifest,
        };
      } finally {
        if (!ok) await writer.abort();
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      for (const p of await job.end(ok)) warn(p);
    }
  }

  private async storeDisk(
    writer: Awaited<ReturnType<Repository['startBackup']>>,
    disk: DomainDiskXml,
    nbd: NbdClient,
    previous: BackupManifest | null,
    signal: AbortSignal | undefined,
    progress: (bytesDone: number) => void,
  ): Promise<KvmDiskResult> {
    const allocation = await nbd.blockStatus('base:allocation');
    const allocated = ranges(allocation, (f) => (f & ZERO) === 0);
    let changes: IncrementalChanges | undefined;
    let changedBytes = sum(allocated);
    if (previous) {
      const dirty = ranges(await nbd.blockStatus(`qemu:dirty-bitmap:backup-${disk.target}`), (f) => (f & DIRTY) !== 0);
      changes = { previous, dirty };
      changedBytes = sum(dirty);
    }
    let bytesRead = 0;
    await writer.writeDisk(
      disk.target,
      nbd.size,
      {
        kind: 'random-access',
        allocated,
        read: async (into, position) => {
          if (signal?.aborted) throw new KvmError('KVM_CANCELLED', 'the backup was cancelled');
          const n = await nbd.read(into, position);
          bytesRead += n;
          return n;
        },
      },
      { changes, onProgress: (p) => progress(p.bytesDone) },
    );
    return { name: disk.target, size: nbd.size, changedBytes, bytesRead };
  }
}

function ranges(extents: readonly Extent[], keep: (flags: number) => boolean): ByteRange[] {
  return extents.filter((e) => keep(e.flags)).map((e) => ({ offset: e.offset, length: e.length }));
}

function sum(r: readonly ByteRange[]): number {
  return r.reduce((s, x) => s + x.length, 0);
}
