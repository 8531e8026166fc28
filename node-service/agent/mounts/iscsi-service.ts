/**
 * This node's tgtd for iSCSI exports of mounts: started with the first export, stopped with
 * the last. Its pid and control port are recorded beside the mounts, so a node that died
 * with an export open ends that tgtd at its next start (it holds the disk file open, which
 * would keep the mount's FUSE file system busy).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { TgtdInstance, type IscsiExport, type IscsiInitiators } from '../../mount/iscsi-target.js';

const RECORD = 'tgtd.json';

export class IscsiService {
  private tgtd: TgtdInstance | null = null;
  private starting: Promise<TgtdInstance> | null = null;
  private users = 0;

  constructor(
    private readonly o: { dir: string; portal: { host: string; port: number }; iqnPrefix: string; logger: Logger },
  ) {}

  async addExport(file: string, initiators: IscsiInitiators, suffix: string): Promise<IscsiExport> {
    this.users += 1;
    try {
      const tgtd = await this.instance();
      return await tgtd.addExport(file, initiators, suffix);
    } catch (err) {
      await this.release();
      throw err;
    }
  }

  async removeExport(exp: IscsiExport): Promise<void> {
    await this.tgtd?.removeExport(exp.tid);
    await this.release();
  }

  private async release(): Promise<void> {
    this.users -= 1;
    if (this.users > 0 || !this.tgtd) return;
    const t = this.tgtd;
    this.tgtd = null;
    this.starting = null;
    await t.stop();
    await fs.rm(path.join(this.o.dir, RECORD), { force: true });
  }

  private instance(): Promise<TgtdInstance> {
    this.starting ??= (async () => {
      const t = await TgtdInstance.start({ portal: this.o.portal, iqnPrefix: this.o.iqnPrefix });
      this.tgtd = t;
      await fs.mkdir(this.o.dir, { recursive: true, mode: 0o700 });
      await fs.writeFile(path.join(this.o.dir, RECORD), JSON.stringify({ pid: t.pid, controlPort: t.controlPort }), { mode: 0o600 });
      this.o.logger.info({ portal: t.portal, pid: t.pid }, 'tgtd started for iSCSI exports');
      return t;
    })().catch((err: unknown) => {
      this.starting = null;
      throw err;
    });
    return this.starting;
  }

  /** Ends a tgtd a previous run of this node left (it died with an export open). */
  static async cleanup(dir: string, logger: Logger): Promise<void> {
    let rec: { pid?: number; controlPort?: number };
    try {
      rec = JSON.parse(await fs.readFile(path.join(dir, RECORD), 'utf8')) as typeof rec;
    } catch {
      return;
    }
    const { pid, controlPort } = rec;
    if (typeof pid === 'number' && typeof controlPort === 'number') {
      const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const args = cmdline.split('\0');
      // Only the tgtd we started (same control port); a reused pid is left alone.
      if (args.some((a) => a.endsWith('tgtd')) && args.includes(String(controlPort))) {
        process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 100 && (await fs.stat(`/proc/${pid}`).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 20));
        logger.warn({ pid, controlPort }, 'ended the tgtd a previous run of this node left');
      }
      for (const f of [`/var/run/tgtd/socket.${controlPort}`, `/var/run/tgtd/socket.${controlPort}.lock`]) await fs.rm(f, { force: true });
    }
    await fs.rm(path.join(dir, RECORD), { force: true });
  }
}
