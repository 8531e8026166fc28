/**
 * One repository operation per process, so the benchmark times ours exactly like restic and
 * borg (a child process, wall time and peak RSS from /usr/bin/time). Prints one JSON line.
 *
 *   init    REPO [chunkSize] [level]
 *   backup  REPO IMAGE [PREVIOUS_ID DIRTY_JSON_FILE]   (a previous id + dirty ranges = incremental)
 *   restore REPO BACKUP_ID FILE
 *   verify  REPO
 *   stats   REPO
 *
 * The password comes from VPLUS_BENCH_PASSWORD (empty or unset: unencrypted).
 */
import { readFile } from 'node:fs/promises';
import { openFileSource } from '../disk-source.js';
import type { ByteRange } from '../format.js';
import { Repository } from '../repository.js';

async function main(argv: string[]): Promise<unknown> {
  const [op, repoPath, ...rest] = argv;
  if (!op || !repoPath) throw new Error('usage: repository-bench-op OP REPO ...');
  const password = process.env['VPLUS_BENCH_PASSWORD'] || undefined;
  const pw = password === undefined ? {} : { password };
  if (op === 'init') {
    const [chunkSize, level] = rest;
    const repo = await Repository.init(repoPath, {
      ...pw,
      ...(chunkSize ? { chunkSize: Number(chunkSize) } : {}),
      ...(level ? { compressionLevel: Number(level) } : {}),
    });
    await repo.close();
    return { id: repo.id };
  }
  const repo = await Repository.open(repoPath, pw);
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
      case 'verify': {
        const r = await repo.verify();
        return { ok: r.ok, chunksChecked: r.chunksChecked, bytesChecked: r.bytesChecked, storedBytesRead: r.storedBytesRead };
      }
      case 'stats':
        return await repo.stats();
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
