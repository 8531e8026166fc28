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
import { S3RepositorySchema, type S3Repository } from '../../common/s3-location.js';
import { openFileSource } from '../../node-service/repository/disk-source.js';
import type { ByteRange } from '../../node-service/repository/format.js';
import { Repository, type InitOptions, type OpenOptions } from '../../node-service/repository/repository.js';

/**
 * The object-store backend's entry points (issue 19: `Repository.init({ s3 }, …)` and
 * `Repository.open({ s3 }, …)`). Typed here until that API is on main; before it is, the
 * call fails and the benchmark reports the S3 column as not available.
 */
type S3Target = { s3: S3Repository };
const initS3 = Repository.init.bind(Repository) as unknown as (t: S3Target, o: InitOptions) => Promise<Repository>;
const openS3 = Repository.open.bind(Repository) as unknown as (t: S3Target, o: OpenOptions) => Promise<Repository>;

async function main(argv: string[]): Promise<unknown> {
  const [op, target, ...rest] = argv;
  if (!op || !target) throw new Error('usage: s3-bench-op OP TARGET ...');
  const password = process.env['VPLUS_BENCH_PASSWORD'];
  if (!password) throw new Error('VPLUS_BENCH_PASSWORD is not set');
  const s3 = target === 's3' ? { s3: S3RepositorySchema.parse(JSON.parse(process.env['VPLUS_BENCH_S3'] ?? 'null')) } : null;
  if (op === 'init') {
    const repo = s3 ? await initS3(s3, { password }) : await Repository.init(target, { password });
    await repo.close();
    return { id: repo.id };
  }
  const repo = s3 ? await openS3(s3, { password }) : await Repository.open(target, { password });
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
