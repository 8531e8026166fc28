import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkCodecPool, ChunkDecodeError } from '../../../node-service/repository/chunk-codec.pool.js';
import type { ChunkIdHash } from '../../../node-service/repository/chunk-format.js';
import { ChunkCodec } from '../../../node-service/repository/chunk-codec.js';
import { deriveKeys } from '../../../node-service/repository/keys.js';
import { decodeManifest, encodeManifest } from '../../../node-service/repository/manifest-store.js';
import type { BackupManifest } from '../../../node-service/repository/format.js';
import { TempDirs, makeImage } from './helpers.js';

const dirs = new TempDirs();
const pools: ChunkCodecPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await dirs.cleanup();
});

async function pool(encrypted: boolean, level = 1, chunkIdHash: ChunkIdHash = 'sha256'): Promise<{ pool: ChunkCodecPool; chunksDir: string; idKey: Buffer | null }> {
  const chunksDir = path.join(await dirs.make(), 'chunks');
  await mkdir(chunksDir);
  const keys = encrypted ? deriveKeys(randomBytes(32), 'f'.repeat(32)) : null;
  const p = new ChunkCodecPool({ threads: 2, chunksDir, keys, chunkIdHash, compressionLevel: level });
  pools.push(p);
  return { pool: p, chunksDir, idKey: keys?.chunkIdKey ?? null };
}

const text = makeImage(300_000, [{ kind: 'text', offset: 0, length: 300_000, seed: 1 }]);
const random = makeImage(300_000, [{ kind: 'random', offset: 0, length: 300_000, seed: 2 }]);

describe('chunk codec (worker threads)', () => {
  for (const encrypted of [false, true]) {
    it(`round-trips compressible and incompressible chunks (${encrypted ? 'encrypted' : 'plain'})`, async () => {
      const { pool: p, idKey } = await pool(encrypted);
      for (const data of [text, random]) {
        const enc = await p.encode(Buffer.from(data), false);
        const expectedId = idKey
          ? createHmac('sha256', idKey).update(data).digest('hex')
          : createHash('sha256').update(data).digest('hex');
        expect(enc.id).toBe(expectedId);
        expect(enc.exists).toBe(false);
        const payload = enc.payload as Buffer;
        expect(payload.subarray(0, 4).toString('latin1')).toBe('VPCK');
        const flags = payload[5] ?? 0;
        expect((flags & 2) !== 0).toBe(encrypted);
        // Text is stored compressed; random data raw (compression would not help).
        expect((flags & 1) !== 0).toBe(data === text);
        if (data === text) expect(payload.length).toBeLessThan(data.length / 2);
        else expect(payload.length).toBeGreaterThanOrEqual(data.length);
        expect(payload.includes(data.subarray(1000, 1032))).toBe(!encrypted && data === random);
        const plain = await p.decode(enc.id, Buffer.from(payload), true);
        expect(plain.equals(data)).toBe(true);
      }
    });

    it(`detects a flipped byte and a chunk stored under another id (${encrypted ? 'encrypted' : 'plain'})`, async () => {
      const { pool: p } = await pool(encrypted);
      const a = await p.encode(Buffer.from(random), false);
      const b = await p.encode(Buffer.from(text), false);
      const flipped = Buffer.from(a.payload as Buffer);
      flipped[flipped.length - 100] = (flipped[flipped.length - 100] ?? 0) ^ 1;
      await expect(p.decode(a.id, flipped, true)).rejects.toMatchObject({ corrupt: true });
      const err = await p.decode(b.id, Buffer.from(a.payload as Buffer), true).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChunkDecodeError);
      expect((err as ChunkDecodeError).corrupt).toBe(true);
      expect((err as Error).message).toMatch(encrypted ? /authentication failed/ : /does not match its id/);
      await expect(p.decode(a.id, Buffer.from('garbage'), true)).rejects.toThrow(/not a chunk file/);
    });
  }

  for (const encrypted of [true, false]) {
    it(`names chunks with ${encrypted ? 'keyed ' : ''}BLAKE3 in the worker threads, as the codec does in process, and checks them against it`, async () => {
      const { pool: p, idKey } = await pool(encrypted, 1, 'blake3');
      const inProcess = new ChunkCodec({ chunkIdHash: 'blake3', chunkIdKey: idKey, chunkKey: null, compressionLevel: 1 });
      const sha = new ChunkCodec({ chunkIdHash: 'sha256', chunkIdKey: idKey, chunkKey: null, compressionLevel: 1 });
      for (const data of [text, random]) {
        const enc = await p.encode(Buffer.from(data), false);
        expect(enc.id).toBe(inProcess.id(data).toString('hex'));
        expect(enc.id).not.toBe(sha.id(data).toString('hex'));
        expect((await p.decode(enc.id, Buffer.from(enc.payload as Buffer), true)).equals(data)).toBe(true);
        // The same file under its SHA-256 name: refused (unencrypted, only the re-hash can tell).
        await expect(p.decode(sha.id(data).toString('hex'), Buffer.from(enc.payload as Buffer), true)).rejects.toThrow(encrypted ? /./ : /does not match its id/);
      }
    });
  }

  it('skips compression and encryption for a chunk that is already stored', async () => {
    const { pool: p, chunksDir } = await pool(true);
    const first = await p.encode(Buffer.from(text), true);
    expect(first.exists).toBe(false);
    await mkdir(path.join(chunksDir, first.id.slice(0, 2)), { recursive: true });
    await writeFile(path.join(chunksDir, first.id.slice(0, 2), first.id), first.payload as Buffer);
    const again = await p.encode(Buffer.from(text), true);
    expect(again).toMatchObject({ id: first.id, exists: true });
    expect(again.payload).toBeUndefined();
    expect(again.plain.equals(text)).toBe(true);
  });

  it('refuses an unencrypted chunk in an encrypted repository', async () => {
    const plain = await pool(false);
    const enc = await pool(true);
    const c = await plain.pool.encode(Buffer.from(text), false);
    await expect(enc.pool.decode(c.id, c.payload as Buffer, true)).rejects.toThrow(/unencrypted chunk in an encrypted repository/);
  });
});

describe('manifest envelope', () => {
  const manifest: BackupManifest = {
    format: 'vplus-backup',
    version: 1,
    id: '20250101T000000Z-0123456789',
    repositoryId: 'r'.repeat(32),
    createdAt: '2025-01-01T00:00:00.000Z',
    group: 'vm:1',
    kind: 'full',
    parent: null,
    source: { name: 'web01', uuid: 'u', xml: '<domain/>' },
    disks: [{ name: 'vda', size: 3 * 1024 * 1024, chunkSize: 1024 * 1024, chunks: ['c'.repeat(64), 2] }],
    summary: { logicalBytes: 1, dataBytes: 1, newBytes: 1, newStoredBytes: 1, newChunks: 1, reusedBytes: 0, readBytes: 1, durationMs: 1 },
  };

  for (const key of [null, randomBytes(32)]) {
    it(`round-trips and detects tampering (${key ? 'encrypted' : 'plain'})`, () => {
      const raw = encodeManifest(manifest, key);
      expect(decodeManifest(raw, manifest.id, key, 'f')).toEqual(manifest);
      expect(raw.includes(Buffer.from('web01'))).toBe(false); // compressed (and maybe encrypted)
      const bad = Buffer.from(raw);
      bad[20] = (bad[20] ?? 0) ^ 0x40;
      expect(() => decodeManifest(bad, manifest.id, key, 'f')).toThrow(expect.objectContaining({ code: 'MANIFEST_CORRUPT' }));
      // Renaming a manifest file to another backup id is detected.
      expect(() => decodeManifest(raw, '20250101T000000Z-aaaaaaaaaa', key, 'f')).toThrow(
        expect.objectContaining({ code: 'MANIFEST_CORRUPT' }),
      );
    });
  }

  it('rejects a manifest whose chunk list does not fit the disk size', () => {
    const wrong = { ...manifest, disks: [{ ...manifest.disks[0]!, chunks: ['c'.repeat(64)] }] };
    expect(() => decodeManifest(encodeManifest(wrong, null), wrong.id, null, 'f')).toThrow(/1 chunks listed, 3 expected/);
  });
});
