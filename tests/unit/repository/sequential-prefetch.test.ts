import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Repository } from '../../../node-service/repository/index.js';
import { KIB, TempDirs, makeImage, memorySource } from './helpers.js';

const CHUNK = 256 * KIB;
const dirs = new TempDirs();
const repos: Repository[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

/**
 * A reader opened with sequentialPrefetch decodes the next chunks ahead when one readRange
 * goes on where the previous ended (a file read through a mount), and only then.
 */
describe('sequential prefetch', { timeout: 30_000 }, () => {
  async function reader(prefetch: number) {
    const repoPath = path.join(await dirs.make(), 'repo');
    const repo = await Repository.init(repoPath, { chunkSize: CHUNK }, { threads: 1 });
    repos.push(repo);
    const image = makeImage(CHUNK * 16, [{ kind: 'random', offset: 0, length: CHUNK * 16, seed: 3 }]);
    const writer = await repo.startBackup({ group: 'vm:seq', source: { vmName: 'seq' } });
    await writer.writeDisk('vda', image.length, memorySource(image));
    const manifest = await writer.commit();
    const r = await repo.openBackup(manifest.id, { cacheChunks: 8, sequentialPrefetch: prefetch });
    // What the reader asks the chunk store for, by chunk.
    const fetch = vi.spyOn((r as unknown as { ctx: { chunks: { fetch: (id: string, n: number) => Promise<unknown> } } }).ctx.chunks, 'fetch');
    return { r, image, fetched: () => fetch.mock.calls.length };
  }

  it('fetches the next chunks ahead on sequential reads, and returns the same bytes', async () => {
    const { r, image, fetched } = await reader(4);
    expect(await r.readRange('vda', 0, CHUNK / 2)).toEqual(image.subarray(0, CHUNK / 2));
    expect(fetched()).toBe(1); // the first read: nothing to go on from yet
    expect(await r.readRange('vda', CHUNK / 2, CHUNK)).toEqual(image.subarray(CHUNK / 2, CHUNK / 2 + CHUNK));
    // Chunks 0-1 read, and 2-5 asked for ahead.
    expect(fetched()).toBe(6);
    const before = fetched();
    expect(await r.readRange('vda', 2 * CHUNK, 2 * CHUNK)).toEqual(image.subarray(2 * CHUNK, 4 * CHUNK));
    // 2 and 3 were already there; the next ones ahead are fetched.
    expect(fetched()).toBeGreaterThan(before);
  });

  it('does not fetch ahead on random reads, nor without the option', async () => {
    const random = await reader(4);
    await random.r.readRange('vda', 10 * CHUNK, 100);
    await random.r.readRange('vda', 2 * CHUNK, 100);
    await random.r.readRange('vda', 7 * CHUNK, 100);
    expect(random.fetched()).toBe(3);
    const off = await reader(0);
    await off.r.readRange('vda', 0, CHUNK);
    await off.r.readRange('vda', CHUNK, CHUNK);
    expect(off.fetched()).toBe(2);
  });
});
