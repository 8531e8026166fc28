import { setTimeout as sleep } from 'node:timers/promises';

/** A counting semaphore: at most `limit` holders; waiters served in order. */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason instanceof Error ? signal.reason : new Error('cancelled'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    } else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }
}

/**
 * The tenant's throttling fence: after a 429/503 with Retry-After, no request of the tenant
 * goes out before that time (Graph throttles per app and tenant; retrying other users' calls
 * early only earns more 429s), and then one request goes first: the others follow once it was
 * not throttled again, so a fence never ends in a burst.
 */
export class ThrottleFence {
  private until = 0;
  private recovering = false;
  private probe: Promise<void> | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  hold(ms: number): void {
    this.until = Math.max(this.until, this.now() + ms);
    this.recovering = true;
  }

  /**
   * Waits until a request may go; call the returned function with whether its answer was
   * throttled again (after hold()), once the answer is in.
   */
  async pass(signal?: AbortSignal): Promise<(throttled: boolean) => void> {
    for (;;) {
      const wait = this.until - this.now();
      if (wait > 0) {
        await sleep(wait, undefined, { signal });
        continue;
      }
      if (!this.recovering) return () => undefined;
      if (this.probe) {
        await abortable(this.probe, signal);
        continue;
      }
      let done!: () => void;
      this.probe = new Promise<void>((resolve) => (done = resolve));
      return (throttled) => {
        if (!throttled) this.recovering = false;
        this.probe = null;
        done();
      };
    }
  }
}

function abortable(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** Retry-After as seconds or an HTTP date, in ms; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Per-owner (user, site, mailbox) and per-tenant concurrency limits. */
export class ConcurrencyLimits {
  private readonly tenant: Semaphore;
  private readonly owners = new Map<string, Semaphore>();

  constructor(private readonly limits: { perOwner: number; perTenant: number }) {
    this.tenant = new Semaphore(limits.perTenant);
  }

  /** Holds one slot of the owner and one of the tenant; returns the release. */
  async acquire(owner: string | undefined, signal?: AbortSignal): Promise<() => void> {
    let ownerRelease: (() => void) | undefined;
    if (owner !== undefined) {
      let s = this.owners.get(owner);
      if (!s) this.owners.set(owner, (s = new Semaphore(this.limits.perOwner)));
      ownerRelease = await s.acquire(signal);
    }
    try {
      const tenantRelease = await this.tenant.acquire(signal);
      return () => {
        tenantRelease();
        ownerRelease?.();
      };
    } catch (err) {
      ownerRelease?.();
      throw err;
    }
  }
}
