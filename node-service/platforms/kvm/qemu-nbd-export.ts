/**
 * Exports the disks of a shut-off VM read-only over NBD with `qemu-nbd`, one server per disk
 * on a unix socket. qemu-nbd holds the images with a lock that refuses writers, so the VM
 * cannot start (and change the disks) while the export is open: every disk is read at one
 * point in time. With `bitmap`, each server also offers the qcow2 persistent bitmap of that
 * name as `qemu:dirty-bitmap:<name>` (the blocks changed since that checkpoint).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ProcessStarter, StartedProcess } from './command-runner.js';
import type { DomainDiskXml } from './domain-xml.js';
import { KvmError, oneSentence } from './errors.js';
import { createExportDir, type ExportDir, type ExportDraft } from './export-record.js';

export interface QemuNbdExportOptions {
  disks: readonly DomainDiskXml[];
  bitmap: string | null;
  workDir: string;
  /** Recorded before the first server starts. */
  record: ExportDraft;
  /** How long a server may take to create its socket. */
  startTimeoutMs?: number;
}

export class QemuNbdExport {
  private ended = false;
  private stopping: Promise<string[]> | undefined;

  private constructor(
    private readonly exportDir: ExportDir,
    private readonly servers: Map<string, { socket: string; process: StartedProcess }>,
    readonly bitmap: string | null,
  ) {}

  static async start(starter: ProcessStarter, o: QemuNbdExportOptions): Promise<QemuNbdExport> {
    const exportDir = await createExportDir(o.workDir, { ...o.record, kind: 'offline', createdCheckpoint: null });
    const dir = exportDir.path;
    const servers = new Map<string, { socket: string; process: StartedProcess }>();
    const exp = new QemuNbdExport(exportDir, servers, o.bitmap);
    try {
      for (const [i, d] of o.disks.entries()) {
        const socket = path.join(dir, `${i}.sock`);
        if (Buffer.byteLength(socket) > 107) throw new KvmError('KVM_NBD', `the work directory ${o.workDir} is too deep for an NBD socket; choose a shorter path`);
        const args = [
          '--read-only',
          '--persistent',
          '--shared=4',
          `--format=${d.format ?? 'raw'}`,
          `--export-name=${d.target}`,
          `--socket=${socket}`,
          `--pid-file=${path.join(dir, `${i}.pid`)}`,
          ...(o.bitmap ? [`--bitmap=${o.bitmap}`] : []),
          d.path!,
        ];
        const process = starter.start('qemu-nbd', args);
        servers.set(d.target, { socket, process });
        await waitForSocket(process, `${i}.pid`, dir, d, o.startTimeoutMs ?? 30_000);
      }
      return exp;
    } catch (err) {
      await exp.end();
      throw err;
    }
  }

  /** The export's private directory (sockets, pid files) under the work directory. */
  get dir(): string {
    return this.exportDir.path;
  }

  socket(target: string): string {
    const s = this.servers.get(target);
    if (!s) throw new KvmError('KVM_NBD', `disk ${target} is not part of this export`);
    return s.socket;
  }

  dirtyContext(): string | null {
    return this.bitmap ? `qemu:dirty-bitmap:${this.bitmap}` : null;
  }

  /** Stops every server (they hold the image locks: the VM can start again); the directory stays until `end`. */
  stop(): Promise<string[]> {
    this.stopping ??= Promise.all([...this.servers.values()].map((s) => s.process.stop())).then(() => []);
    return this.stopping;
  }

  /** Stops every server and removes the directory; nothing in libvirt changed, so success or not is the same. */
  async end(): Promise<string[]> {
    if (this.ended) return [];
    this.ended = true;
    await this.stop();
    await this.exportDir.release();
    return [];
  }
}

/** qemu-nbd writes its pid file once the socket listens. */
async function waitForSocket(p: StartedProcess, pidFile: string, dir: string, disk: DomainDiskXml, timeoutMs: number): Promise<void> {
  let exitCode: number | null | undefined;
  void p.exited.then((c) => (exitCode = c));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      const why = oneSentence(p.stderr().replace(/^qemu-nbd:\s*/gm, ''));
      const locked = /lock/i.test(why) ? ' (is the VM starting, or is another program using the disk?)' : '';
      throw new KvmError('KVM_NBD', `qemu-nbd could not export disk ${disk.target} (${disk.path ?? ''})${locked}: ${why || `exit code ${String(exitCode)}`}`);
    }
    const pid = await readFile(path.join(dir, pidFile), 'utf8').catch(() => '');
    if (pid.trim() !== '') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new KvmError('KVM_NBD', `qemu-nbd did not start serving disk ${disk.target} within ${Math.round(timeoutMs / 1000)} s`);
}
