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
 *
 * With VPLUS_BENCH_TRACE_DIR set, the operation also writes there a JSON file of its phases
 * (ms each) and of every S3 request (kind, key, queued/started/ended), to see where time goes.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { S3RepositorySchema } from '../../common/s3-location.js';
import { openFileSource } from '../../node-service/repository/disk-source.js';
import type { ByteRange } from '../../node-service/repository/format.js';
import { Repository, type RepositoryLocation } from '../../node-service/repository/repository.js';
import type { S3RequestTrace } from '../../node-service/repository/s3/s3-file-system.js';

const traceDir = process.env['VPLUS_BENCH_TRACE_DIR'];
const t0 = performance.now();
const phases: { phase: string; startMs: number; endMs: number }[] = [];
const requests: S3RequestTrace[] = [];

/** Runs one phase of the operation, timed when tracing. */
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const startMs = performance.now();
  try {
    return await fn();
  } finally {
    phases.push({ phase: name, startMs: startMs - t0, endMs: performance.now() - t0 });
  }
}

function writeTrace(op: string, target: string): void {
  if (!traceDir) return;
  const rel = requests.map((r) => ({ ...r, queuedMs: r.queuedMs - t0, startMs: r.startMs - t0, endMs: r.endMs - t0 }));
  // How busy this (the main) thread was: near 1 means it, not the store, set the pace.
  const eventLoopUtilization = performance.eventLoopUtilization().utilization;
  const cpu = process.cpuUsage();
  writeFileSync(
    path.join(traceDir, `${target === 's3' ? 's3' : 'dir'}-${op}-${Date.now()}.json`),
    JSON.stringify({ op, totalMs: performance.now() - t0, eventLoopUtilization, cpuMs: (cpu.user + cpu.system) / 1000, phases, requests: rel }),
  );
}

async function main(argv: string[]): Promise<unknown> {
  const [op, target, ...rest] = argv;
  if (!op || !target) throw new Error('usage: s3-bench-op OP TARGET ...');
  const password = process.env['VPLUS_BENCH_PASSWORD'];
  if (!password) throw new Error('VPLUS_BENCH_PASSWORD is not set');
  // Loaded only when tracing: a directory's run must not pay for loading the S3 SDK.
  if (traceDir) (await import('../../node-service/repository/s3/s3-file-system.js')).s3RequestTrace.sink = (t) => requests.push(t);
  const location: RepositoryLocation = target === 's3' ? { s3: S3RepositorySchema.parse(JSON.parse(process.env['VPLUS_BENCH_S3'] ?? 'null')) } : target;
  if (op === 'init') {
    const repo = await Repository.init(location, { password });
    await repo.close();
    return { id: repo.id };
  }
  const repo = await phase('open', () => Repository.open(location, { password }));
  try {
    switch (op) {
      case 'backup': {
        const [image, previousId, dirtyFile] = rest;
        if (!image) throw new Error('backup needs an image');
        const src = await openFileSource(image);
        try {
          const writer = await phase('startBackup', () => repo.startBackup({ group: 'bench', source: { image } }));
          if (previousId && dirtyFile) {
            const previous = await phase('loadManifest', () => repo.loadManifest(previousId));
            const dirty = JSON.parse(await readFile(dirtyFile, 'utf8')) as ByteRange[];
            await phase('writeDisk', () => writer.writeDisk('disk', src.size, src.source, { changes: { previous, dirty } }));
          } else {
            await phase('writeDisk', () => writer.writeDisk('disk', src.size, src.source));
          }
          const m = await phase('commit', () => writer.commit());
          return { id: m.id, summary: m.summary };
        } finally {
          await src.close();
        }
      }
      case 'restore': {
        const [id, file] = rest;
        if (!id || !file) throw new Error('restore needs a backup id and a file');
        const reader = await phase('openBackup', () => repo.openBackup(id));
        return await phase('restoreToFile', () => reader.restoreToFile('disk', file));
      }
      default:
        throw new Error(`unknown op ${op}`);
    }
  } finally {
    await phase('close', () => repo.close());
    writeTrace(op, target);
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
