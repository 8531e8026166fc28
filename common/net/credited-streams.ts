/**
 * The receiving end of credit-paced streams (see credit-sink.ts for the sending end): each
 * stream is a Readable whose consumer's reads grant the sender more credit, never more than
 * a window in flight. Used by the server for streams from nodes (node-relay.ts) and by a
 * node for a restore pulled through the server.
 */
import { Readable } from 'node:stream';

/** Credit window per stream. */
export const STREAM_WINDOW = 2 * 1024 * 1024;

interface Entry<H> {
  head: { resolve(h: H): void; reject(e: Error): void } | null;
  body: Readable;
  outstanding: number;
}

export class CreditedStreams<H> {
  private readonly streams = new Map<number, Entry<H>>();

  constructor(
    /** Grants the sender `bytes` more of stream `id`. */
    private readonly grant: (id: number, bytes: number) => void,
    /** Tells the sender to stop stream `id` (its consumer went away). */
    private readonly cancel: (id: number) => void,
  ) {}

  /** Registers stream `id` (the caller then asks the sender for it with STREAM_WINDOW of credit). */
  open(id: number): { head: Promise<H>; body: Readable } {
    const entry: Entry<H> = {
      head: null,
      outstanding: STREAM_WINDOW,
      // A small buffer here: the window is what is in flight; the buffer adds at most this.
      body: new Readable({
        highWaterMark: 256 * 1024,
        read: () => {
          // The consumer wants more: top the sender's credit back up to the window.
          if (entry.outstanding < STREAM_WINDOW / 2 && this.streams.has(id)) {
            const bytes = STREAM_WINDOW - entry.outstanding;
            entry.outstanding = STREAM_WINDOW;
            this.grant(id, bytes);
          }
        },
        destroy: (err, done) => {
          if (this.streams.delete(id)) this.cancel(id);
          done(err);
        },
      }),
    };
    // Whoever pipes the body hears its errors; one that arrives when nobody does must not crash us.
    entry.body.on('error', () => undefined);
    const head = new Promise<H>((resolve, reject) => (entry.head = { resolve, reject }));
    this.streams.set(id, entry);
    return { head, body: entry.body };
  }

  has(id: number): boolean {
    return this.streams.has(id);
  }

  /** Forgets a stream that never started (the request could not be sent). */
  drop(id: number): void {
    this.streams.delete(id);
  }

  head(id: number, head: H): void {
    const s = this.streams.get(id);
    s?.head?.resolve(head);
    if (s) s.head = null;
  }

  data(id: number, data: Buffer): void {
    const s = this.streams.get(id);
    if (!s) return;
    s.outstanding -= data.length;
    s.body.push(data);
  }

  /** The sender finished (error: it failed; before the head, the open fails with it). */
  end(id: number, error?: Error, emptyHead?: H): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    if (error) {
      if (s.head) s.head.reject(error);
      else s.body.destroy(error);
    } else {
      if (s.head && emptyHead !== undefined) s.head.resolve(emptyHead);
      s.body.push(null);
    }
  }

  /** Every stream fails with `error` (the sender is gone), or only those `which` picks. */
  failAll(error: () => Error, which: (id: number) => boolean = () => true): void {
    for (const id of [...this.streams.keys()].filter(which)) this.end(id, error());
  }
}
