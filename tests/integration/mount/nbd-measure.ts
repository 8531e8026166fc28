/**
 * Measurements behind the NBD server's numbers (not a test; needs qemu-io and nbdcopy).
 * Compile it with its imports and the chunk worker beside them, then run it:
 *
 *   echo '{"extends":"./tsconfig.base.json","compilerOptions":{"outDir":"/tmp/nbd-measure","rootDir":".","noEmit":false},
 *     "files":["tests/integration/mount/nbd-measure.ts","node-service/repository/chunk-worker.ts"]}' > /tmp/m.json
 *   cp /tmp/m.json ./tsconfig.measure.tmp.json && npx tsc -p tsconfig.measure.tmp.json && rm tsconfig.measure.tmp.json
 *   ln -sfn "$PWD/node_modules" /tmp/nbd-measure/node_modules && node /tmp/nbd-measure/tests/integration/mount/nbd-measure.js
 *
 * 1. The first 1 MiB of a 4 GiB mostly-empty disk: time and bytes read from the repository
 *    (this process's read syscalls, /proc/self/io rchar: chunk and manifest files; the
 *    client's requests are a few bytes), from opening the backup to the data at the client.
 * 2. nbdcopy of a 1 GiB data disk (half random, half text-like) to null:, with and without
 *    the overlay. Each case gets a fresh reader (cold chunk cache; the page cache stays warm).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { backupReaderSource } from '../../../node-service/mount/block-device.js';
import { serveBackup } from '../../../node-service/mount/nbd-server.js';
import { NbdClient } from '../../../node-service/platforms/kvm/nbd-client.js';
import { Repository } from '../../../node-service/repository/index.js';
import { Prng, makeImage } from '../../unit/repository/helpers.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

function rchar(): number {
  const m = /rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** Deterministic data generated per chunk: no 1 GiB buffer in memory. */
function generatedSource(seed: number) {
  return {
    kind: 'random-access' as const,
    read: async (into: Buffer, position: number): Promise<number> => {
      const text = Math.floor(position / MIB) % 2 === 1;
      const img = text ? makeImage(into.length, [{ kind: 'text', offset: 0, length: into.length, seed: seed + position }]) : null;
      if (img) img.copy(into);
      else new Prng(seed + position).fill(into);
      return into.length;
    },
  };
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'vplus-nbd-measure-'));
  const repo = await Repository.init(path.join(root, 'repo'), {}, { threads: 2 });
  try {
    const w = await repo.startBackup({ group: 'vm:measure' });
    const first = Buffer.alloc(16 * MIB);
    new Prng(1).fill(first);
    await w.writeDisk('sparse', 4 * GIB, {
      kind: 'extents',
      extents: [
        { offset: 0, data: first },
        { offset: 2 * GIB, data: first.subarray(0, 4 * MIB) },
      ],
    });
    let t = Date.now();
    await w.writeDisk('data', GIB, generatedSource(7));
    console.log(`wrote the 1 GiB data disk in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const manifest = await w.commit();
    const manifestSize = (await stat(path.join(repo.path, 'backups', `${manifest.id}.manifest`))).size;
    console.log(`manifest ${manifestSize} bytes; stored ${(manifest.summary.newStoredBytes / MIB).toFixed(1)} MiB`);

    for (const overlay of [false, true]) {
      const label = overlay ? 'overlay   ' : 'read-only ';
      const sock = path.join(root, `m-${overlay}.sock`);
      const uri = `nbd+unix:///sparse?socket=${sock}`;
      const before = rchar();
      t = performance.now();
      const reader = await repo.openBackup(manifest.id);
      const server = await serveBackup(backupReaderSource(reader), { socketPath: sock, ...(overlay ? { overlayDir: root } : {}) });
      const ready = performance.now() - t;
      await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read 0 1M', uri]);
      const total = performance.now() - t;
      const bytes = rchar() - before;
      // The same read again: a second qemu-io, the chunk now in the reader's cache.
      const t2 = performance.now();
      await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read 0 1M', uri]);
      const again = performance.now() - t2;
      console.log(
        `${label} first 1 MiB of the 4 GiB disk: open+listen ${ready.toFixed(1)} ms, to data at qemu-io ${total.toFixed(0)} ms ` +
          `(qemu-io alone, cached: ${again.toFixed(0)} ms), read from repository ${(bytes / 1024).toFixed(0)} KiB`,
      );
      await server.close();
    }

    // The same without a process start: an in-process client, fresh reader (reply bytes subtracted).
    {
      const sock = path.join(root, 'inproc.sock');
      const before = rchar();
      t = performance.now();
      const reader = await repo.openBackup(manifest.id);
      const server = await serveBackup(backupReaderSource(reader), { socketPath: sock });
      const client = await NbdClient.connect(sock, 'sparse');
      await client.read(Buffer.alloc(MIB), 0);
      const ms = performance.now() - t;
      const bytes = rchar() - before - MIB;
      console.log(`in-process client: open + listen + connect + first 1 MiB ${ms.toFixed(1)} ms, read from repository ${(bytes / 1024).toFixed(0)} KiB`);
      await client.close();
      await server.close();
    }

    for (const cacheChunks of [16, 64]) {
      for (const overlay of [false, true]) {
        const label = `${overlay ? 'overlay  ' : 'read-only'} cache ${String(cacheChunks).padStart(2)}`;
        const sock = path.join(root, `c-${overlay}-${cacheChunks}.sock`);
        const reader = await repo.openBackup(manifest.id, { cacheChunks });
        const server = await serveBackup(backupReaderSource(reader), { socketPath: sock, ...(overlay ? { overlayDir: root } : {}) });
        const before = rchar();
        t = performance.now();
        await run('nbdcopy', [`nbd+unix:///data?socket=${sock}`, 'null:']);
        const s = (performance.now() - t) / 1000;
        const bytes = rchar() - before;
        console.log(`${label}: nbdcopy 1 GiB data disk in ${s.toFixed(2)} s = ${(1024 / s).toFixed(0)} MiB/s, read from repository ${(bytes / MIB).toFixed(0)} MiB`);
        await server.close();
      }
    }
  } finally {
    await repo.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
