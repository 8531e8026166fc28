import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { planChunks, type BufferPool, type DiskSource } from '../../../node-service/repository/disk-source.js';
import { NoSpaceError, RepositoryIoError, toRepositoryError } from '../../../node-service/repository/index.js';

const buffers: BufferPool = { take: (n, zeroed) => (zeroed ? Buffer.alloc(n) : Buffer.allocUnsafe(n)), release: () => undefined };

async function plan(source: DiskSource, size: number, chunkSize: number, reuse: (i: number) => string | null | undefined = () => undefined) {
  const out: { index: number; kind: string; data?: Buffer }[] = [];
  for await (const t of planChunks('vda', source, { size, chunkSize, reuse }, buffers)) {
    out.push({ index: t.index, kind: t.kind, ...(t.kind === 'data' ? { data: await t.load() } : {}) });
  }
  return out;
}

describe('disk sources', () => {
  it('turns extents into chunks: holes become zero chunks, pieces are assembled', async () => {
    const tasks = await plan(
      {
        kind: 'extents',
        extents: [
          { offset: 2, data: Buffer.from('ab') },
          { offset: 6, data: Buffer.from('cdef') }, // spans chunks 1 and 2
          { offset: 17, data: Buffer.from('z') },
        ],
      },
      18,
      4,
    );
    expect(tasks.map((t) => t.kind)).toEqual(['data', 'data', 'data', 'zero', 'data']);
    expect(tasks[0]?.data?.toString('latin1')).toBe('\0\0ab');
    expect(tasks[1]?.data?.toString('latin1')).toBe('\0\0cd');
    expect(tasks[2]?.data?.toString('latin1')).toBe('ef\0\0');
    expect(tasks[4]?.data?.toString('latin1')).toBe('\0z');
  });

  it('rejects extents out of order or past the end', async () => {
    const overlap = { kind: 'extents' as const, extents: [{ offset: 4, data: Buffer.alloc(4) }, { offset: 6, data: Buffer.alloc(1) }] };
    await expect(plan(overlap, 16, 4)).rejects.toMatchObject({ code: 'SOURCE_ERROR', message: expect.stringMatching(/overlaps or is out of order/) });
    const past = { kind: 'extents' as const, extents: [{ offset: 14, data: Buffer.alloc(4) }] };
    await expect(plan(past, 16, 4)).rejects.toMatchObject({ message: expect.stringMatching(/past the disk size/) });
  });

  it('skips unallocated chunks of a random-access source without reading them', async () => {
    const reads: number[] = [];
    const tasks = await plan(
      {
        kind: 'random-access',
        allocated: [{ offset: 5, length: 2 }],
        read: async (into, position) => {
          reads.push(position);
          into.fill(1);
          return into.length;
        },
      },
      16,
      4,
    );
    expect(tasks.map((t) => t.kind)).toEqual(['zero', 'data', 'zero', 'zero']);
    expect(reads).toEqual([4]);
  });

  it('reads a stream across chunk boundaries, skipping clean chunks, and checks its length', async () => {
    const img = Buffer.from('0123456789abcdef');
    const pieces = [img.subarray(0, 3), img.subarray(3, 11), img.subarray(11)];
    const tasks = await plan(Readable.from(pieces), 16, 4, (i) => (i === 1 ? 'x'.repeat(64) : undefined));
    expect(tasks.map((t) => t.kind)).toEqual(['data', 'reuse', 'data', 'data']);
    expect(tasks.map((t) => t.data?.toString() ?? '-')).toEqual(['0123', '-', '89ab', 'cdef']);
    await expect(plan(Readable.from([img]), 20, 4)).rejects.toMatchObject({ message: expect.stringMatching(/ended at byte 16 of 20/) });
    await expect(plan(Readable.from([img]), 8, 4)).rejects.toMatchObject({ message: expect.stringMatching(/longer than the disk size/) });
  });

  it('wraps a failing read as a source error naming the disk', async () => {
    const failing: DiskSource = {
      kind: 'random-access',
      read: async () => {
        throw new Error('NBD connection reset');
      },
    };
    await expect(plan(failing, 8, 4)).rejects.toMatchObject({
      code: 'SOURCE_ERROR',
      message: 'Reading disk "vda" failed: read at offset 0 failed: NBD connection reset.',
    });
  });
});

describe('filesystem error mapping', () => {
  it('names the destination and says what to do', () => {
    const nospc = toRepositoryError(Object.assign(new Error('x'), { code: 'ENOSPC' }), '/mnt/nas/vplus', 'writing chunk ab12');
    expect(nospc).toBeInstanceOf(NoSpaceError);
    expect(nospc.message).toBe(
      'No space left on the backup destination /mnt/nas/vplus while writing chunk ab12. Earlier backups are intact. Garbage-collect the destination to free at once what failed and pruned backups left (vplus destination gc <destination> --wait, or Destinations → Garbage collect); prune old backups first if that is not enough, or choose a larger destination.',
    );
    expect(toRepositoryError(Object.assign(new Error('x'), { code: 'EROFS' }), '/r', 'a').code).toBe('REPO_READ_ONLY');
    expect(toRepositoryError(Object.assign(new Error('x'), { code: 'EACCES' }), '/r', 'a').code).toBe('REPO_PERMISSION_DENIED');
    const eio = toRepositoryError(Object.assign(new Error('input/output error'), { code: 'EIO' }), '/r', 'reading');
    expect(eio).toBeInstanceOf(RepositoryIoError);
    expect(eio.message).toMatch(/I\/O error on the backup destination \/r while reading: input\/output error/);
  });
});
