/**
 * One vPlus repository operation per process for `npm run bench -- s3`, on a directory or on
 * an S3 bucket, so both are timed like restic (a child process; wall time and peak RSS).
 * Prints one JSON line.
 *
 *   init    TARGET
 *   backup  TARGET IMAGE [PREVIOUS_ID DIRTY_JSON_FILE]   (a previous id + dirty ranges = incremental)
 *   restore TARGET BACKUP_ID FILE
 *
 * TARGET is a directory, or "s3" for the bucket described by VPLUS_BENCH_S3 (an S3Repository
 * as JSON). The password comes from VPLUS_BENCH_PASSWORD.
 */
import { readFile } from 'node:fs/promises';
import { S3RepositorySchema } from '../../common/s3-location.js';
import { openFileSource } from '../../node-service/repository/disk-source.js';
import type { ByteRange } from '../../node-service/repository/format.js';
import { Repository, type RepositoryLocation } from '../../node-service/repository/repository.js';

async function main(argv: string[]): Promise<unknown> {
  const [op, target, ...rest] = argv;
  if (!op || !target) throw new Error('usage: s3-bench-op OP TARGET ...');
  const password = process.env['VPLUS_BENCH_PASSWORD'];
  if (!password) throw new Error('VPLUS_BENCH_PASSWORD is not set');
  const location: RepositoryLocation = target === 's3' ? { s3: S3RepositorySchema.parse(JSON.parse(process.env['VPLUS_BENCH_S3'] ?? 'null')) } : target;
  if (op === 'init') {
    const repo = await Repository.init(location, { password });
    await repo.close();
    return { id: repo.id };
  }
  const repo = await Repository.open(location, { password });
  try {
    switch (op) {
      case 'backup': {
        const [image, previousId, dirtyFile] = rest;
        if (!image) throw new Error('backup needs an image');
        const src = await openFileSource(image);
        try {
          const writer = await repo.startBackup({ group: 'bench', source: { image } });
          if (previousId && dirtyFile) {
            const previous = await repo.loadManifest(previousId);
            const dirty = JSON.parse(await readFile(dirtyFile, 'utf8')) as ByteRange[];
            await writer.writeDisk('disk', src.size, src.source, { changes: { previous, dirty } });
          } else {
            await writer.writeDisk('disk', src.size, src.source);
          }
          const m = await writer.commit();
          return { id: m.id, summary: m.summary };
        } finally {
          await src.close();
        }
      }
      case 'restore': {
        const [id, file] = rest;
        if (!id || !file) throw new Error('restore needs a backup id and a file');
        const reader = await repo.openBackup(id);
        return await reader.restoreToFile('disk', file);
      }
      default:
        throw new Error(`unknown op ${op}`);
    }
  } finally {
    await repo.close();
  }
}

main(process.argv.slice(2)).then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + '\n');
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
