/**
 * One step of the VM benchmark per process, so ours is timed exactly like virtnbdbackup and
 * restic (a child process, wall time and peak RSS from /usr/bin/time). Prints one JSON line.
 *
 *   backup  REPO DOMAIN WORKDIR full|auto [CHECKPOINT BACKUP_ID]
 *   restore REPO BACKUP_ID DIRECTORY raw|qcow2
 *
 * The password comes from VPLUS_BENCH_PASSWORD.
 */
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

main(process.argv.slice(2)).then(
  (result) => process.stdout.write(JSON.stringify(result) + '\n'),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
