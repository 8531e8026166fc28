import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkCodec, ChunkCorruptError, existingLooksValid, headerFits } from '../../../node-service/repository/chunk-codec.js';
import { chunkWorkerUrl } from '../../../node-service/repository/chunk-codec.pool.js';
import { CHUNK_MAGIC, ENVELOPE_HEADER_BYTES } from '../../../node-service/repository/chunk-format.js';
import { TempDirs, makeImage } from './helpers.js';

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

const text = makeImage(200_000, [{ kind: 'text', offset: 0, length: 200_000, seed: 3 }]);
const random = makeImage(200_000, [{ kind: 'random', offset: 0, length: 200_000, seed: 4 }]);

describe('chunk ids', () => {
  // BLAKE3's published test vectors (test_vectors.json: input bytes i % 251, key "whats the Elvish word for friend").
  const vector = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));
  const elvish = Buffer.from('whats the Elvish word for friend');
  it('BLAKE3, unkeyed and keyed, matches the published vectors; SHA-256 and HMAC-SHA-256 match node:crypto', () => {
    const blake = (key: Buffer | null) => new ChunkCodec({ chunkIdHash: 'blake3', chunkIdKey: key, chunkKey: null, compressionLevel: 1 });
    expect(blake(null).id(vector(0)).toString('hex')).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
    expect(blake(null).id(vector(1024)).toString('hex')).toBe('42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7');
    expect(blake(elvish).id(vector(0)).toString('hex')).toBe('92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26');
    expect(blake(elvish).id(vector(1024)).toString('hex')).toBe('75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4');
    const sha = (key: Buffer | null) => new ChunkCodec({ chunkIdHash: 'sha256', chunkIdKey: key, chunkKey: null, compressionLevel: 1 });
    expect(sha(null).id(text).equals(createHash('sha256').update(text).digest())).toBe(true);
    expect(sha(elvish).id(text).equals(createHmac('sha256', elvish).update(text).digest())).toBe(true);
  });
});

describe('chunk codec (in process)', () => {
  for (const [encrypted, chunkIdHash] of [[false, 'sha256'], [true, 'sha256'], [false, 'blake3'], [true, 'blake3']] as const) {
    const codec = new ChunkCodec({
      chunkIdHash,
      chunkIdKey: encrypted ? randomBytes(32) : null,
      chunkKey: encrypted ? randomBytes(32) : null,
      compressionLevel: 1,
    });

    it(`encodes, checks headers and decodes, also into reused memory (${encrypted ? 'encrypted' : 'plain'}, ${chunkIdHash} ids)`, async () => {
      for (const data of [text, random]) {
        const id = codec.id(data);
        if (!encrypted && chunkIdHash === 'sha256') expect(id.equals(createHash('sha256').update(data).digest())).toBe(true);
        const payload = codec.encode(Buffer.from(data), id);
        expect(payload.subarray(0, 4).toString('latin1')).toBe(CHUNK_MAGIC);
        // Transferable as is (starts its ArrayBuffer), with room for any chunk of this length.
        expect(payload.byteOffset).toBe(0);
        expect(payload.buffer.byteLength).toBeGreaterThanOrEqual(ENVELOPE_HEADER_BYTES + data.length);
        // Written into a spare that fits: the same memory, and it decodes to the same bytes.
        const again = codec.encode(Buffer.from(data), id, payload);
        expect(again.buffer).toBe(payload.buffer);
        expect(codec.decode(id.toString('hex'), Buffer.from(again), true).equals(data)).toBe(true);
        // A spare too small for this length is not used.
        const small = Buffer.alloc(16);
        expect(codec.encode(Buffer.from(data), id, small).buffer).not.toBe(small.buffer);
        const header = payload.subarray(0, ENVELOPE_HEADER_BYTES);
        expect(headerFits(header, payload.length, data.length, encrypted)).toBe(true);
        expect(headerFits(header, payload.length, data.length, !encrypted)).toBe(false);
        expect(headerFits(header, payload.length, data.length - 1, encrypted)).toBe(false);
        expect(codec.decode(id.toString('hex'), payload, true).equals(data)).toBe(true);
        const reused = Buffer.alloc(300_000);
        const plain = codec.decode(id.toString('hex'), Buffer.from(payload), true, (n) => reused.subarray(0, n));
        expect(plain.equals(data)).toBe(true);

        const file = path.join(await dirs.make(), 'chunk');
        await writeFile(file, payload);
        expect(existingLooksValid(file, data.length, encrypted)).toBe(true);
        await writeFile(file, payload.subarray(0, ENVELOPE_HEADER_BYTES)); // only the header is left
        expect(existingLooksValid(file, data.length, encrypted)).toBe(false);
        expect(existingLooksValid(`${file}.missing`, data.length, encrypted)).toBe(false);
      }
    });
  }

  it('throws ChunkCorruptError for a foreign file and a wrong id', () => {
    const codec = new ChunkCodec({ chunkIdHash: 'blake3', chunkIdKey: null, chunkKey: null, compressionLevel: 1 });
    const payload = codec.encode(Buffer.from(text), codec.id(text));
    expect(() => codec.decode('0'.repeat(64), payload, true)).toThrow(ChunkCorruptError);
    expect(() => codec.decode('0'.repeat(64), Buffer.from('garbage'), false)).toThrow(/not a chunk file/);
  });
});

describe('chunk worker location', () => {
  it('runs the compiled worker beside a compiled pool, and says "run npm run build" from stale or missing sources', async () => {
    const root = await dirs.make();
    const compiled = path.join(root, 'lib');
    await mkdir(compiled);
    const compiledPool = pathToFileURL(path.join(compiled, 'chunk-codec.pool.js')).href;
    expect(() => chunkWorkerUrl(compiledPool)).toThrow(/chunk-worker\.js is missing/);
    await writeFile(path.join(compiled, 'chunk-worker.js'), '');
    expect(chunkWorkerUrl(compiledPool).href).toBe(pathToFileURL(path.join(compiled, 'chunk-worker.js')).href);

    const sources = path.join(root, 'node-service', 'repository');
    const dist = path.join(root, 'dist', 'node-service', 'repository');
    await mkdir(sources, { recursive: true });
    const sourcePool = pathToFileURL(path.join(sources, 'chunk-codec.pool.ts')).href;
    const modules = ['chunk-worker', 'chunk-codec', 'chunk-file-io', 'chunk-format'];
    for (const m of modules) await writeFile(path.join(sources, `${m}.ts`), '');
    expect(() => chunkWorkerUrl(sourcePool)).toThrow(/is not compiled .* run npm run build/);
    await mkdir(dist, { recursive: true });
    for (const m of modules) await writeFile(path.join(dist, `${m}.js`), '');
    expect(chunkWorkerUrl(sourcePool).href).toBe(pathToFileURL(path.join(dist, 'chunk-worker.js')).href);
    const later = new Date(Date.now() + 60_000);
    await utimes(path.join(sources, 'chunk-codec.ts'), later, later);
    expect(() => chunkWorkerUrl(sourcePool)).toThrow(/out of date \(chunk-codec\.ts changed .*\): run npm run build/);
  });
});
