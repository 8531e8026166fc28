/** Bounded concurrency helpers: I/O and worker calls in flight, never unbounded. */

/**
 * Runs `fn` over the items of an (async) iterable with at most `limit` in flight. Stops
 * pulling on the first error, waits for what is running, and rethrows that error.
 */
export async function runBounded<T>(
  items: AsyncIterable<T> | Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | null = null;
  const iterator: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  try {
    while (failure === null) {
      const next = await iterator.next();
      if (next.done) break;
      const p: Promise<void> = fn(next.value).then(
        () => {
          running.delete(p);
        },
        (err: unknown) => {
          running.delete(p);
          failure ??= { err };
        },
      );
      running.add(p);
      if (running.size >= Math.max(1, limit)) await Promise.race(running);
    }
  } catch (err) {
    failure ??= { err };
  }
  if (failure !== null) {
    // Close the source (e.g. destroy a stream); its own cleanup error is secondary.
    await Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
  await Promise.all(running);
  if (failure !== null) throw failure.err;
}

/**
 * Maps `fn` over `items` with up to `limit` calls in flight and yields the results in input
 * order (read-ahead for streaming a disk in order).
 */
export async function* mapOrdered<T, R>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const queue: Promise<R>[] = [];
  const it = items[Symbol.iterator]();
  let done = false;
  const fill = (): void => {
    while (!done && queue.length < Math.max(1, limit)) {
      const next = it.next();
      if (next.done) {
        done = true;
        return;
      }
      const p = fn(next.value);
      // Rejections are observed when the item is yielded; avoid an unhandled-rejection crash meanwhile.
      p.catch(() => undefined);
      queue.push(p);
    }
  };
  fill();
  try {
    while (queue.length > 0) {
      const head = queue.shift() as Promise<R>;
      const value = await head;
      fill();
      yield value;
    }
  } finally {
    // Consumer stopped early or a call failed: let the calls in flight settle before returning.
    await Promise.allSettled(queue);
  }
}
