/**
 * Ends exports a previous run of this node left open (killed between EXPORT and STORE, or
 * during STORE). Only what this node recorded itself (export-record.ts), in its own work
 * directory, and only when the recorded owner process is gone (pid, start time and boot all
 * checked: a pid is reused): another node's exports, a live process's exports, and anything
 * without a readable record are never touched. A pull-mode job is aborted only when the
 * domain's active job serves its NBD socket inside the recorded directory (the job is ours);
 * its backup was never reported, so the checkpoint it created is deleted and the previous
 * checkpoint stays the base. A qemu-nbd is stopped only when its pid file is in that
 * directory and its command line names it.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { CommandRunner } from './command-runner.js';
import { readExportRecords, type ExportRecord } from './export-record.js';
import { isAlive, type ProcessIdentity } from '../../repository/process-identity.js';
import { Virsh } from './virsh.adapter.js';

export type RecoveryLog = (level: 'info' | 'warn', message: string) => void;

export interface RecoverOptions {
  /** This node's work directory (one of them: it moves when QEMU cannot traverse the staging directory). */
  workDir: string;
  /** This node's runtime key: records naming another node are left alone. */
  node: string;
  runner: CommandRunner;
  log: RecoveryLog;
  /** Whether a recorded owner still runs (tests; default: /proc). */
  isOwnerAlive?: (owner: ProcessIdentity) => boolean;
}

/** Returns how many stale exports were ended. */
export async function recoverStaleExports(o: RecoverOptions): Promise<number> {
  const alive = o.isOwnerAlive ?? isAlive;
  let ended = 0;
  for (const found of await readExportRecords(o.workDir)) {
    const r = found.record;
    if (!r) {
      o.log('warn', `left ${found.file} alone: the export record cannot be read, so whose export it is is unknown`);
      continue;
    }
    if (r.owner.node !== o.node) continue; // another node's (the directory should not even be shared)
    if (alive(r.owner)) continue; // a live process of this node holds it
    if (r.kind === 'offline') await stopQemuNbd(found.dir, o.log);
    else await endPullJob(found.dir, r, o);
    await rm(found.dir, { recursive: true, force: true });
    await rm(found.file, { force: true }); // the record last: it names what there is to end
    ended++;
  }
  return ended;
}

async function endPullJob(dir: string, r: ExportRecord, o: RecoverOptions): Promise<void> {
  const virsh = new Virsh(o.runner, r.uri);
  const ours = async (): Promise<boolean> => (await virsh.backupSocket(r.domain))?.startsWith(dir + path.sep) ?? false;
  try {
    if (!(await ours())) return; // the job ended (VM stopped) or never started: nothing of ours runs
    await virsh.abortJob(r.domain);
    const deadline = Date.now() + 30_000;
    while ((await ours()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    o.log('info', `aborted the backup job a previous run of this node left on domain ${r.domain}`);
  } catch (err) {
    o.log('warn', `ending the stale backup job on domain ${r.domain} failed: ${(err as Error).message}`);
    return;
  }
  const checkpoint = r.createdCheckpoint;
  if (!checkpoint) return;
  await virsh.deleteCheckpoint(r.domain, checkpoint).then(
    () => o.log('info', `deleted checkpoint ${checkpoint} of the unfinished backup of domain ${r.domain}`),
    (err: unknown) => o.log('warn', `deleting checkpoint ${checkpoint} of the unfinished backup of domain ${r.domain} failed: ${(err as Error).message}`),
  );
}

/** Stops the qemu-nbd servers of an `off-*` directory: their pid files, checked against /proc. */
async function stopQemuNbd(dir: string, log: RecoveryLog): Promise<void> {
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.pid'))) {
    const pid = Number((await readFile(path.join(dir, f), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    const serving = async (): Promise<boolean> => {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      return cmdline.includes('qemu-nbd') && cmdline.includes(dir); // else gone, or the pid was reused
    };
    if (!(await serving())) continue;
    try {
      process.kill(pid, 'SIGTERM');
      // Until it has exited it holds the image lock: the VM could not start, a new export would fail.
      const deadline = Date.now() + 10_000;
      while ((await serving()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      log('info', `stopped qemu-nbd (pid ${pid}) left serving ${dir}`);
    } catch (err) {
      log('warn', `stopping qemu-nbd (pid ${pid}) failed: ${(err as Error).message}`);
    }
  }
}
