/**
 * One libvirt pull-mode backup job: a new checkpoint plus an NBD server (unix socket) that
 * exports every included disk as of the job's start, while the VM keeps running. QEMU writes
 * the socket and the scratch files (copy-before-write of blocks the guest overwrites), so
 * they live in a private directory owned by the user QEMU runs as.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown } from 'node:fs/promises';
import path from 'node:path';
import { backupXml, checkpointXml } from './domain-xml.js';
import { KvmError } from './errors.js';
import { createExportDir, type ExportDir, type ExportDraft } from './export-record.js';
import type { Virsh } from './virsh.adapter.js';

export interface PullJobOptions {
  domain: string;
  include: readonly string[];
  exclude: readonly string[];
  /** Checkpoint to read changes since; null for a full backup. */
  incremental: string | null;
  workDir: string;
  /** False when a disk cannot hold a persistent bitmap (raw): a full backup with no checkpoint. */
  checkpoint: boolean;
  qemuOwner: { uid: number; gid: number } | null;
  /** Recorded (with the checkpoint the job will create) before the job starts. */
  record: ExportDraft;
}

export class PullBackupJob {
  private ended = false;
  private stopping: Promise<string[]> | undefined;

  private constructor(
    private readonly virsh: Virsh,
    readonly domain: string,
    readonly checkpoint: string | null,
    readonly socket: string,
    private readonly exportDir: ExportDir,
  ) {}

  /** The job's private directory (socket, scratch files) under the work directory. */
  get dir(): string {
    return this.exportDir.path;
  }

  /** Starts the job; on failure nothing is left behind (libvirt creates the checkpoint atomically with the job). */
  static async begin(virsh: Virsh, o: PullJobOptions): Promise<PullBackupJob> {
    const checkpoint = o.checkpoint ? newCheckpointName() : null;
    const exportDir = await createExportDir(o.workDir, { ...o.record, kind: 'pull', createdCheckpoint: checkpoint });
    const dir = exportDir.path;
    try {
      if (o.qemuOwner) await chown(dir, o.qemuOwner.uid, o.qemuOwner.gid);
      await chmod(dir, 0o700);
      const socket = path.join(dir, 'nbd.sock');
      // A unix socket path is limited to 107 bytes; fail with the reason rather than QEMU's.
      if (Buffer.byteLength(socket) > 107) throw new KvmError('KVM_BACKUP_JOB', `the work directory ${o.workDir} is too deep for an NBD socket; choose a shorter path`);
      await virsh.backupBegin(
        o.domain,
        backupXml({ socket, scratchDir: dir, include: o.include, exclude: o.exclude, incremental: o.incremental }),
        checkpoint ? checkpointXml(checkpoint, o.include, o.exclude) : null,
        dir,
      );
      return new PullBackupJob(virsh, o.domain, checkpoint, socket, exportDir);
    } catch (err) {
      await exportDir.release();
      throw err;
    }
  }

  /**
   * Stops the job (its NBD server and scratch files) and waits until QEMU let go of it, but
   * leaves the checkpoint: whether it stays is decided by `end`. Called as soon as every
   * byte is read, so it runs while the repository commits. `served`: our NBD connection to
   * the job's socket was just answered, so the domain's job is ours (the socket is this
   * export's own) and is aborted without asking libvirt first. Returns problems as warnings.
   */
  stop(served = false): Promise<string[]> {
    this.stopping ??= this.stopJob(served);
    return this.stopping;
  }

  /**
   * Ends the job. After a committed backup the checkpoint stays as the next incremental's
   * base; after a failure it is deleted, which merges its bitmap into its parent, so the
   * previous checkpoint still covers every change and the next incremental stays correct.
   */
  async end(succeeded: boolean): Promise<string[]> {
    if (this.ended) return [];
    this.ended = true;
    const problems = [...(await this.stop())];
    if (!succeeded && this.checkpoint) {
      try {
        await this.virsh.deleteCheckpoint(this.domain, this.checkpoint);
      } catch (err) {
        problems.push(`removing checkpoint ${this.checkpoint} of the failed backup failed: ${(err as Error).message}`);
      }
    }
    await this.exportDir.release();
    return problems;
  }

  private async stopJob(served: boolean): Promise<string[]> {
    try {
      // Only our job: if ours is gone (the VM was restarted), the domain's job is someone else's.
      if (!served && !(await this.ownJobActive())) return [];
      try {
        await this.virsh.abortJob(this.domain);
      } catch (err) {
        if (await this.ownJobActive()) throw err;
        return []; // it ended meanwhile
      }
      // domjobabort only asks; the next backup-begin (or checkpoint-delete) fails while QEMU is still tearing down.
      const deadline = Date.now() + 30_000;
      while ((await this.ownJobActive()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return [];
    } catch (err) {
      return [`ending the backup job of ${this.domain} failed: ${(err as Error).message}`];
    }
  }

  private async ownJobActive(): Promise<boolean> {
    return (await this.virsh.backupSocket(this.domain)) === this.socket;
  }
}

/** Every checkpoint vPlus creates starts with this (how the cleanup after a backup recognises ours). */
export const CHECKPOINT_PREFIX = 'vplus-';

/** Time-sortable, so `checkpoint-list` shows the chain in order. */
function newCheckpointName(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${CHECKPOINT_PREFIX}${t}-${randomBytes(3).toString('hex')}`;
}
