/** Injectable time source, so throttling, expiry and schedules are testable. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
