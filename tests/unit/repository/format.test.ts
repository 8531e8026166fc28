import { describe, expect, it } from 'vitest';
import { alignToChunks, dirtyChunkMap } from '../../../node-service/repository/index.js';
import { sortRanges } from '../../../node-service/repository/disk-source.js';
import {
  BACKUP_ID_RE,
  chunkCount,
  chunkLength,
  compactChunks,
  expandChunks,
  newBackupId,
  validateChunkList,
  composeSlot,
  objectsOf,
  type DiskManifest,
} from '../../../node-service/repository/format.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('chunk lists', () => {
  it('collapses zero chunks into runs and expands them back', () => {
    const slots = [null, null, A, null, B, B, null, null, null];
    const compact = compactChunks(slots);
    expect(compact).toEqual([2, A, 1, B, B, 3]);
    expect(expandChunks({ chunks: compact })).toEqual(slots);
    expect(compactChunks([])).toEqual([]);
  });

  it('validates a chunk list against the disk size', () => {
    expect(validateChunkList({ name: 'd', size: 5 * 1024 * 1024 + 1, chunkSize: 1024 * 1024, chunks: [A, 4, B] })).toBeNull();
    expect(validateChunkList({ name: 'd', size: 3 * 1024 * 1024, chunkSize: 1024 * 1024, chunks: [A, 1] })).toMatch(/2 chunks listed, 3 expected/);
    expect(validateChunkList({ name: 'd', size: 1024 * 1024, chunkSize: 1024 * 1024, chunks: ['xyz'] })).toMatch(/invalid chunk id/);
    expect(validateChunkList({ name: 'd', size: 1024 * 1024, chunkSize: 1024 * 1024, chunks: [0] })).toMatch(/invalid zero run/);
  });

  it('takes overlays only in a version 2 manifest, with sorted parts inside their chunk', () => {
    const M = 1024 * 1024;
    const disk = (chunks: unknown[]) => ({ name: 'd', size: 2 * M + 10, chunkSize: M, chunks: chunks as DiskManifest['chunks'] });
    const ok = disk([A, { base: A, over: [[0, 10, B], [4096, 4096, B]] }, { base: B, over: [[0, 10, A]] }]);
    expect(validateChunkList(ok)).toBeNull();
    expect(validateChunkList(ok, false)).toMatch(/overlay chunk in a version 1 manifest/);
    expect(validateChunkList(disk([A, { base: A, over: [[4096, 4096, B], [0, 10, B]] }, 1]))).toMatch(/chunk 1: overlay parts out of order/);
    expect(validateChunkList(disk([A, { base: A, over: [[0, 4096, B], [4000, 10, B]] }, 1]))).toMatch(/out of order/);
    // The last chunk is 10 bytes long: a part may not pass its end.
    expect(validateChunkList(disk([A, 1, { base: A, over: [[5, 6, B]] }]))).toMatch(/chunk 2: .*outside the chunk/);
    expect(validateChunkList(disk([A, { base: 'xyz', over: [[0, 1, B]] }, 1]))).toMatch(/invalid overlay base/);
    expect(validateChunkList(disk([A, { base: A, over: [] }, 1]))).toMatch(/invalid overlay parts/);
    expect(validateChunkList(disk([A, { base: A, over: [[0, 1, 'nope']] }, 1]))).toMatch(/invalid overlay part id/);
    expect(validateChunkList(disk([A, { base: A, over: [[0, 0, B]] }, 1]))).toMatch(/outside the chunk/);
    // Slots, objects and composition.
    const slots = expandChunks(ok);
    expect(objectsOf(slots[1]!, M)).toEqual([{ id: A, length: M }, { id: B, length: 10 }, { id: B, length: 4096 }]);
    expect(compactChunks(slots)).toEqual(ok.chunks);
  });

  it('composes an overlay from its base and parts without changing the base buffer', async () => {
    const base = Buffer.alloc(16, 1);
    const parts: Record<string, Buffer> = { [A]: base, [B]: Buffer.from([7, 7]) };
    const plain = await composeSlot({ base: A, over: [[3, 2, B], [10, 2, B]] }, 16, async (id) => parts[id]!);
    expect([...plain]).toEqual([1, 1, 1, 7, 7, 1, 1, 1, 1, 1, 7, 7, 1, 1, 1, 1]);
    expect(base.every((b) => b === 1)).toBe(true);
  });

  it('computes the short last chunk', () => {
    expect(chunkCount(10, 4)).toBe(3);
    expect([0, 1, 2].map((i) => chunkLength(10, 4, i))).toEqual([4, 4, 2]);
    expect(chunkCount(0, 4)).toBe(0);
  });

  it('makes time-sortable backup ids', () => {
    const a = newBackupId(Date.parse('2025-01-02T03:04:05.678Z'));
    expect(a).toMatch(/^20250102T030405Z-[0-9a-f]{10}$/);
    expect(BACKUP_ID_RE.test(a)).toBe(true);
    expect(newBackupId(Date.parse('2025-01-02T03:04:06Z')) > a).toBe(true);
    expect(BACKUP_ID_RE.test('../etc/passwd')).toBe(false);
  });
});

describe('dirty ranges', () => {
  it('maps byte ranges to the chunks they touch, clipped to the disk', () => {
    const map = dirtyChunkMap(
      [
        { offset: 0, length: 1 },
        { offset: 4095, length: 2 },
        { offset: 9000, length: 100_000 },
      ],
      10_000,
      4096,
    );
    expect([...map]).toEqual([1, 1, 1]);
    expect([...dirtyChunkMap([{ offset: 5000, length: 10 }], 10_000, 4096)]).toEqual([0, 1, 0]);
    expect([...dirtyChunkMap([{ offset: 4096, length: 0 }], 10_000, 4096)]).toEqual([0, 0, 0]);
  });

  it('aligns dirty ranges to whole chunks and merges neighbours', () => {
    expect(
      alignToChunks(
        [
          { offset: 5, length: 10 },
          { offset: 4100, length: 1 },
          { offset: 9000, length: 1 },
        ],
        9500,
        4096,
      ),
    ).toEqual([{ offset: 0, length: 9500 }]);
    expect(alignToChunks([{ offset: 8192, length: 1 }], 9500, 4096)).toEqual([{ offset: 8192, length: 9500 - 8192 }]);
  });

  it('sorts and merges ranges and rejects invalid ones', () => {
    expect(
      sortRanges([
        { offset: 10, length: 5 },
        { offset: 0, length: 12 },
        { offset: 20, length: 0 },
      ]),
    ).toEqual([{ offset: 0, length: 15 }]);
    expect(() => sortRanges([{ offset: -1, length: 5 }])).toThrow(/invalid byte range/);
  });
});
