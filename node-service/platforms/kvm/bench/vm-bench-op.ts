/**
 * One step of the VM benchmark per process, so ours is timed exactly like virtnbdbackup and
 * restic (a child process, wall time and peak RSS from /usr/bin/time). Prints one JSON line.
 *
 *   backup  REPO DOMAIN WORKDIR full|auto [CHECKPOINT BACKUP_ID]
 *   restore REPO BACKUP_ID DIRECTORY raw|qcow2
 *   serve   steps as a node runs them: one long-lived process, one JSON line per step on
 *           stdin (the arguments above as an array), one JSON line per step on stdout:
 *           { result | error, cpuSeconds (all threads), maxRssBytes (the process's so far) }
 *
 * The password comes from VPLUS_BENCH_PASSWORD.
 */
import { createInterface } from 'node:readline';
import { Repository } from '../../../repository/repository.js';
import { KvmBackup } from '../kvm-backup.service.js';
import { restoreToDirectory } from '../kvm-restore.service.js';

async function main(argv: string[]): Promise<unknown> {
  const [op, repoPath, ...rest] = argv;
  if (!op || !repoPath) throw new Error('usage: vm-bench-op OP REPO ...');
  const password = process.env['VPLUS_BENCH_PASSWORD'];
  const repository = await Repository.open(repoPath, password ? { password } : {});
  try {
    if (op === 'backup') {
      const [domain, workDir, mode, checkpoint, backupId] = rest;
      if (!domain || !workDir || (mode !== 'full' && mode !== 'auto')) throw new Error('backup needs DOMAIN WORKDIR full|auto');
      const previous = checkpoint && backupId ? { checkpoint, backupId } : null;
      const r = await new KvmBackup().run({ domain, repository, mode, previous, workDir });
      return { backupId: r.backupId, type: r.type, checkpoint: r.checkpoint, bytesRead: r.bytesRead, warnings: r.warnings };
    }
    if (op === 'restore') {
      const [backupId, directory, format] = rest;
      if (!backupId || !directory || (format !== 'raw' && format !== 'qcow2')) throw new Error('restore needs BACKUP_ID DIRECTORY raw|qcow2');
      const r = await restoreToDirectory({ repository, backupId, directory, format });
      return { disks: r.disks };
    }
    throw new Error(`unknown op ${op}`);
  } finally {
    await repository.close();
  }
}

const message = (err: unknown): string => (err instanceof Error ? (err.stack ?? err.message) : String(err));

/** The steps of a round in one process, as the node service runs its tasks (its key cache and started Node kept). */
async function serve(): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const cpu0 = process.cpuUsage();
    const out = await main(JSON.parse(line) as string[]).then(
      (result) => ({ result }),
      (err: unknown) => ({ error: message(err) }),
    );
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(JSON.stringify({ ...out, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
  }
}

const argv = process.argv.slice(2);
if (argv[0] === 'serve') {
  serve().catch((err: unknown) => {
    process.stderr.write(`${message(err)}\n`);
    process.exitCode = 1;
  });
} else {
  main(argv).then(
    (result) => process.stdout.write(JSON.stringify(result) + '\n'),
    (err: unknown) => {
      process.stderr.write(`${message(err)}\n`);
      process.exitCode = 1;
    },
  );
}
