/** Time source, injected so tests can move time forward (lease staleness, GC grace, retention). */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
