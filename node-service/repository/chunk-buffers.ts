/**
 * The writer's chunk buffers: a few whole-chunk buffers reused across chunks, each with its
 * own ArrayBuffer (transferred to a codec worker, not copied), and the all-zero test.
 */
import type { BufferPool } from './disk-source.js';

export class ChunkBuffers implements BufferPool {
  private readonly free: Buffer[] = [];
  constructor(
    private readonly size: number,
    private readonly keep: number,
  ) {}

  take(length: number, zeroed: boolean): Buffer {
    const buf = length === this.size ? this.free.pop() : undefined;
    if (buf) {
      if (zeroed) buf.fill(0);
      return buf;
    }
    // Own ArrayBuffer per chunk: it is transferred to a worker thread, not copied.
    const fresh = Buffer.allocUnsafeSlow(length);
    if (zeroed) fresh.fill(0);
    return fresh;
  }

  release(buf: Buffer): void {
    if (buf.length === this.size && this.free.length < this.keep) this.free.push(buf);
  }
}

let zeroBuffer = Buffer.alloc(0);
export function isZero(buf: Buffer): boolean {
  if (zeroBuffer.length < buf.length) zeroBuffer = Buffer.alloc(buf.length);
  return buf.equals(zeroBuffer.subarray(0, buf.length));
}
