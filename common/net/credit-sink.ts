import { Writable } from 'node:stream';
import { STREAM_FRAME_HEADER } from '../node-protocol.js';

const MAX_FRAME = 256 * 1024;

/**
 * The node's end of a stream to the server: writes become binary frames (call id + data),
 * never more bytes than the server granted. Writes wait for credit, so the source (a file,
 * a zip) is paced by the HTTP client at the far end.
 */
export class CreditSink extends Writable {
  private credit: number;
  private pending: { chunk: Buffer; done: (err?: Error | null) => void } | null = null;

  constructor(
    private readonly callId: number,
    initialCredit: number,
    private readonly sendFrame: (frame: Buffer) => boolean,
  ) {
    super({ highWaterMark: MAX_FRAME });
    this.credit = initialCredit;
  }

  addCredit(bytes: number): void {
    this.credit += bytes;
    this.pump();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.pending = { chunk, done };
    this.pump();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const p = this.pending;
    this.pending = null;
    p?.done(err ?? new Error('stream cancelled'));
    done(err);
  }

  private pump(): void {
    while (this.pending && this.credit > 0) {
      const { chunk, done } = this.pending;
      const n = Math.min(this.credit, chunk.length, MAX_FRAME);
      const frame = Buffer.allocUnsafe(STREAM_FRAME_HEADER + n);
      frame.writeUInt32BE(this.callId, 0);
      chunk.copy(frame, STREAM_FRAME_HEADER, 0, n);
      if (!this.sendFrame(frame)) {
        this.pending = null;
        done(new Error('the server connection closed'));
        return;
      }
      this.credit -= n;
      if (n === chunk.length) {
        this.pending = null;
        done();
      } else {
        this.pending = { chunk: chunk.subarray(n), done };
      }
    }
  }
}
