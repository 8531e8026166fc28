import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ReadOnlyDeviceError, ReadOnlyDisk } from '../../../node-service/mount/block-device.js';
import { CowOverlay, OverlayExtents } from '../../../node-service/mount/cow-overlay.js';
import { Prng, TempDirs } from '../repository/helpers.js';
import { memoryBackup } from './nbd-test-helpers.js';

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

describe('overlay extent map', () => {
  it('keeps sorted, merged ranges and cuts reads into base / data / zero pieces', () => {
    const m = new OverlayExtents();
    m.set(100, 200, false);
    m.set(300, 400, false);
    m.set(200, 300, false); // bridges both: one extent
    expect(m.count).toBe(1);
    m.set(150, 250, true); // a zero hole in the middle splits it
    expect(m.pieces(0, 500)).toEqual([
      { start: 0, end: 100, from: 'base' },
      { start: 100, end: 150, from: 'data' },
      { start: 150, end: 250, from: 'zero' },
      { start: 250, end: 400, from: 'data' },
      { start: 400, end: 500, from: 'base' },
    ]);
    expect(m.bytes).toBe(300);
    expect(m.pieces(160, 170)).toEqual([{ start: 160, end: 170, from: 'zero' }]);
  });

  it('matches a byte-by-byte model over random operations', () => {
    const size = 4096;
    const p = new Prng(5);
    const m = new OverlayExtents();
    const model: ('base' | 'data' | 'zero')[] = new Array(size).fill('base');
    for (let i = 0; i < 400; i++) {
      const a = p.int(size);
      const b = Math.min(size, a + 1 + p.int(300));
      const zero = p.int(3) === 0;
      m.set(a, b, zero);
      model.fill(zero ? 'zero' : 'data', a, b);
    }
    const got: string[] = [];
    for (const piece of m.pieces(0, size)) for (let i = piece.start; i < piece.end; i++) got.push(piece.from);
    expect(got).toEqual(model);
  });
});

describe('copy-on-write overlay', () => {
  it('reads merge the overlay and the backup; the backup never changes; the file is gone from the start', async () => {
    const img = Buffer.alloc(1024 * 1024);
    new Prng(1).fill(img.subarray(0, 300_000));
    const original = Buffer.from(img);
    const dir = await dirs.make('vplus-overlay-test-');
    const base = new ReadOnlyDisk(memoryBackup(img), 'vda');
    await expect(base.write()).rejects.toBeInstanceOf(ReadOnlyDeviceError);
    const overlay = await CowOverlay.create(base, dir);
    expect(await readdir(dir)).toEqual([]);

    const model = Buffer.from(img);
    const p = new Prng(2);
    for (let i = 0; i < 200; i++) {
      const offset = p.int(img.length - 1);
      const length = 1 + p.int(Math.min(70_000, img.length - offset));
      if (p.int(4) === 0) {
        await overlay.zero(offset, length);
        model.fill(0, offset, offset + length);
      } else {
        const data = Buffer.alloc(length);
        p.fill(data);
        await overlay.write(offset, data);
        data.copy(model, offset);
      }
      const at = p.int(img.length - 1);
      const n = 1 + p.int(img.length - at);
      expect((await overlay.read(at, n)).equals(model.subarray(at, at + n))).toBe(true);
    }
    expect((await overlay.read(0, img.length)).equals(model)).toBe(true);
    expect(img.equals(original)).toBe(true);
    await overlay.flush();
    await overlay.close();
  });

  it('reports written ranges as data and zeroed ranges as zero, the rest as the backup has it', async () => {
    const img = Buffer.alloc(64 * 1024);
    img.fill(7, 0, 8192);
    const overlay = await CowOverlay.create(new ReadOnlyDisk(memoryBackup(img), 'vda'), await dirs.make('vplus-overlay-test-'));
    await overlay.write(20_000, Buffer.alloc(1000, 1));
    await overlay.zero(4096, 2048);
    expect(overlay.runs(0, img.length)).toEqual([
      { offset: 0, length: 4096, zero: false },
      { offset: 4096, length: 2048, zero: true },
      { offset: 6144, length: 2048, zero: false },
      { offset: 8192, length: 20_000 - 8192, zero: true },
      { offset: 20_000, length: 1000, zero: false },
      { offset: 21_000, length: img.length - 21_000, zero: true },
    ]);
    expect(overlay.overlayBytes).toBe(3048);
    await overlay.close();
  });
});
