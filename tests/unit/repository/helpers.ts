/** Shared helpers for the repository tests: temp dirs, a movable clock, deterministic images. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../../../node-service/repository/clock.js';

export const KIB = 1024;
export const MIB = 1024 * 1024;

/** Cheap scrypt for tests (production default is N = 2^16). */
export const TEST_KDF = { N: 1024, r: 8, p: 1 };

export class FakeClock implements Clock {
  constructor(private ms: number = Date.now()) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

export class TempDirs {
  private readonly dirs: string[] = [];
  async make(prefix = 'vplus-repo-test-'): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** xorshift32: fast, deterministic, good enough for test data. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = (Math.imul(seed | 0, 0x9e3779b1) ^ 0x5bd1e995) >>> 0 || 1;
  }
  next32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(max: number): number {
    return this.next32() % max;
  }
  fill(buf: Buffer): void {
    let i = 0;
    for (; i + 4 <= buf.length; i += 4) buf.writeUInt32LE(this.next32(), i);
    for (; i < buf.length; i++) buf[i] = this.next32() & 0xff;
  }
}

export type Region =
  | { kind: 'random'; offset: number; length: number; seed: number }
  | { kind: 'text'; offset: number; length: number; seed: number }
  | { kind: 'byte'; offset: number; length: number; value: number }
  | { kind: 'copy'; offset: number; length: number; from: number };

/** Builds an image: zero everywhere except the given regions (applied in order). */
export function makeImage(size: number, regions: Region[]): Buffer {
  const img = Buffer.alloc(size);
  for (const r of regions) {
    const end = Math.min(size, r.offset + r.length);
    const len = end - r.offset;
    if (len <= 0) continue;
    const target = img.subarray(r.offset, end);
    if (r.kind === 'random') new Prng(r.seed).fill(target);
    else if (r.kind === 'byte') target.fill(r.value);
    else if (r.kind === 'copy') img.copy(img, r.offset, r.from, r.from + len);
    else {
      const p = new Prng(r.seed);
      const words = ['disk', 'backup', 'chunk', 'node', 'server', 'lorem', 'ipsum', 'error', 'info', 'kvm', 'qemu'];
      let o = 0;
      while (o < len) o += target.write(`${words[p.int(words.length)]} ${p.int(1000)}\n`, o);
    }
  }
  return img;
}

/** A random image with holes, zero runs, repeated regions and an odd size. */
export function randomImage(seed: number, size: number): Buffer {
  const p = new Prng(seed);
  const regions: Region[] = [];
  for (let i = 0; i < 12; i++) {
    const offset = p.int(size);
    const length = 1 + p.int(Math.max(1, Math.floor(size / 6)));
    const pick = p.int(4);
    if (pick === 0) regions.push({ kind: 'random', offset, length, seed: seed * 100 + i });
    else if (pick === 1) regions.push({ kind: 'text', offset, length, seed: seed * 100 + i });
    else if (pick === 2) regions.push({ kind: 'byte', offset, length, value: 0 });
    else regions.push({ kind: 'copy', offset, length, from: p.int(size) });
  }
  return makeImage(size, regions);
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A random-access source over an in-memory image. */
export function memorySource(img: Buffer) {
  return {
    kind: 'random-access' as const,
    read: async (into: Buffer, position: number): Promise<number> => {
      const n = Math.max(0, Math.min(into.length, img.length - position));
      img.copy(into, 0, position, position + n);
      return n;
    },
  };
}
