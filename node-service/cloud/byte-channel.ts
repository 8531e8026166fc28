/**
 * A bounded push→pull pipe: a producer that pushes (a download's sink) feeds a consumer that
 * pulls (the repository's chunker) with at most `limit` bytes buffered. A consumer that stops
 * early makes the next push throw, so the producer ends too.
 */
export class ByteChannel implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: { err: unknown } | null = null;
  private closed = false;
  private wakeReader: (() => void) | null = null;
  private wakeWriter: (() => void) | null = null;

  constructor(private readonly limit = 1024 * 1024) {}

  async push(chunk: Buffer): Promise<void> {
    if (this.closed) throw new Error('the reader stopped');
    this.queue.push(chunk);
    this.buffered += chunk.length;
    this.wake('reader');
    while (this.buffered > this.limit && !this.closed) await new Promise<void>((resolve) => (this.wakeWriter = resolve));
    if (this.closed) throw new Error('the reader stopped');
  }

  end(): void {
    this.ended = true;
    this.wake('reader');
  }

  fail(err: unknown): void {
    this.failure ??= { err };
    this.wake('reader');
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next) {
          this.buffered -= next.length;
          this.wake('writer');
          yield next;
          continue;
        }
        if (this.failure) throw this.failure.err;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
      }
    } finally {
      this.closed = true;
      this.wake('writer');
    }
  }

  private wake(who: 'reader' | 'writer'): void {
    const fn = who === 'reader' ? this.wakeReader : this.wakeWriter;
    if (who === 'reader') this.wakeReader = null;
    else this.wakeWriter = null;
    fn?.();
  }
}
