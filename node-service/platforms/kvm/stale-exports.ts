/**
 * Ends exports a previous run of the node left open (killed between EXPORT and STORE, or
 * during STORE). How we know they are ours: every export lives in its own directory under
 * the node's KVM work directory (`nbd-*` for a libvirt pull-mode job, `off-*` for qemu-nbd),
 * so a domain whose active backup job serves its NBD socket inside that directory, or a
 * qemu-nbd whose command line names it, was started by us. Their backups were never reported,
 * so a checkpoint such a job created is deleted: the previous checkpoint stays the base.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { EXPORT_RECORD, type ExportRecord } from './kvm-export.js';
import type { CommandRunner } from './command-runner.js';
import { Virsh } from './virsh.adapter.js';

export type RecoveryLog = (level: 'info' | 'warn', message: string) => void;

export async function recoverStaleExports(o: { workDir: string; runner: CommandRunner; log: RecoveryLog; defaultUri?: string }): Promise<number> {
  let names: string[];
  try {
    names = await readdir(o.workDir);
  } catch {
    return 0; // no work directory: this node never exported anything
  }
  const records = new Map<string, ExportRecord | null>();
  for (const n of names.filter((x) => x.startsWith('nbd-') || x.startsWith('off-'))) {
    const dir = path.join(o.workDir, n);
    const record = await readFile(path.join(dir, EXPORT_RECORD), 'utf8').then((t) => JSON.parse(t) as ExportRecord, () => null);
    if (record && record.ownerPid !== process.pid && processAlive(record.ownerPid)) continue; // another live node process's export
    records.set(dir, record);
  }
  const dirs = [...records.keys()];
  if (dirs.length === 0) return 0;

  for (const dir of dirs.filter((d) => path.basename(d).startsWith('off-'))) await stopQemuNbd(dir, o.log);

  const uris = new Set([o.defaultUri ?? 'qemu:///system', ...[...records.values()].flatMap((r) => (r ? [r.uri] : []))]);
  if (dirs.some((d) => path.basename(d).startsWith('nbd-'))) {
    for (const uri of uris) {
      const virsh = new Virsh(o.runner, uri);
      let active: string[];
      try {
        active = await virsh.listActive();
      } catch (err) {
        o.log('warn', `cannot look for backup jobs left on ${uri}: ${(err as Error).message}`);
        continue;
      }
      for (const domain of active) {
        const xml = await virsh.backupXml(domain).catch(() => null); // no job: nothing to end
        const socket = xml ? /<server\b[^>]*\bsocket=['"]([^'"]+)['"]/.exec(xml)?.[1] : undefined;
        const dir = socket ? dirs.find((d) => socket.startsWith(d + path.sep)) : undefined;
        if (!dir) continue;
        try {
          await virsh.abortJob(domain);
          const deadline = Date.now() + 30_000;
          while ((await virsh.hasActiveJob(domain)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
          o.log('info', `aborted the backup job a previous run of this node left on domain ${domain}`);
        } catch (err) {
          o.log('warn', `aborting the stale backup job on domain ${domain} failed: ${(err as Error).message}`);
        }
        const checkpoint = records.get(dir)?.createdCheckpoint;
        if (checkpoint) {
          await virsh.deleteCheckpoint(domain, checkpoint).then(
            () => o.log('info', `deleted checkpoint ${checkpoint} of the unfinished backup of domain ${domain}`),
            (err: unknown) => o.log('warn', `deleting checkpoint ${checkpoint} of the unfinished backup of domain ${domain} failed: ${(err as Error).message}`),
          );
        }
      }
    }
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  return dirs.length;
}

/** Stops the qemu-nbd servers of an `off-*` directory: their pid files, checked against /proc. */
async function stopQemuNbd(dir: string, log: RecoveryLog): Promise<void> {
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.pid'))) {
    const pid = Number((await readFile(path.join(dir, f), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes('qemu-nbd') || !cmdline.includes(dir)) continue; // gone, or the pid was reused
    try {
      process.kill(pid, 'SIGTERM');
      log('info', `stopped qemu-nbd (pid ${pid}) left serving ${dir}`);
    } catch (err) {
      log('warn', `stopping qemu-nbd (pid ${pid}) failed: ${(err as Error).message}`);
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
