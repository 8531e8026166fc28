import { nameKey } from '../../../common/names.js';
import type { Clock } from '../clock.js';

interface Bucket {
  failures: number;
  firstAt: number;
  lockedUntil: number;
}

/**
 * Slows password guessing: after `freeAttempts` failures for one username or
 * one client address within the window, further attempts are refused for a
 * lock time that doubles with every further failure (capped). In memory: a
 * restart resets it, which is acceptable for a single-server product.
 */
export interface ThrottleOptions {
  freeAttempts: number;
  windowMs: number;
  baseLockMs: number;
  maxLockMs: number;
}

export const USER_THROTTLE: ThrottleOptions = { freeAttempts: 5, windowMs: 15 * 60_000, baseLockMs: 30_000, maxLockMs: 15 * 60_000 };
export const ADDRESS_THROTTLE: ThrottleOptions = { freeAttempts: 30, windowMs: 15 * 60_000, baseLockMs: 30_000, maxLockMs: 15 * 60_000 };

/**
 * The per-user throttle key: the account the name resolves to, so every spelling the catalog
 * takes for it (case, accents, spaces) shares one count; an unknown name by its name key.
 */
export function loginThrottleKey(username: string, userId: number | undefined): string {
  return userId === undefined ? `name:${nameKey(username)}` : `user:${userId}`;
}

export class LoginThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly clock: Clock,
    private readonly opts: ThrottleOptions = USER_THROTTLE,
  ) {}

  /** Milliseconds until another attempt is allowed for any of these keys, or 0. */
  retryAfterMs(keys: string[]): number {
    const now = this.clock.now();
    let wait = 0;
    for (const key of keys) {
      const b = this.buckets.get(key);
      if (b && b.lockedUntil > now) wait = Math.max(wait, b.lockedUntil - now);
    }
    return wait;
  }

  fail(keys: string[]): void {
    const now = this.clock.now();
    for (const key of keys) {
      let b = this.buckets.get(key);
      if (!b || now - b.firstAt > this.opts.windowMs) b = { failures: 0, firstAt: now, lockedUntil: 0 };
      b.failures += 1;
      const over = b.failures - this.opts.freeAttempts;
      if (over >= 0) b.lockedUntil = now + Math.min(this.opts.maxLockMs, this.opts.baseLockMs * 2 ** over);
      this.buckets.set(key, b);
    }
    if (this.buckets.size > 10_000) this.prune(now);
  }

  succeed(keys: string[]): void {
    for (const key of keys) this.buckets.delete(key);
  }

  private prune(now: number): void {
    for (const [key, b] of this.buckets) if (now - b.firstAt > this.opts.windowMs && b.lockedUntil < now) this.buckets.delete(key);
  }
}
