/**
 * What the tests observe and steer about the emulator's traffic: every request recorded
 * (host, method, path, tenant, the user or site it concerns, status, time), requests in flight
 * and their peak per tenant and per user/site, throttling rules (the next N matching requests
 * answer 429 or 503 with Retry-After) with a count of requests that came back before the
 * Retry-After had passed, and download failures.
 */
import { EventEmitter } from 'node:events';
import type { DriveOwnerRef } from './drive.model.js';

export type HostRole = 'login' | 'graph' | 'files';

export interface RequestRecord {
  seq: number;
  host: HostRole;
  method: string;
  /** Path as received (percent-encoded), without the query; Graph paths include the base path. */
  path: string;
  query: string;
  /** Epoch ms at arrival and when the response ended. */
  start: number;
  end?: number;
  status?: number;
  tenantId?: string;
  /** The user (or site) whose data the request touches. */
  owner?: DriveOwnerRef;
  clientId?: string;
  /** The drive and item a request concerns (drive routes and the file host). */
  driveId?: string;
  itemId?: string;
  /** File host: the client sent an Authorization header to a pre-authenticated URL (a token leaked to another host). */
  authorizationSent?: boolean;
  /** Set on the sub-requests of a $batch: the seq of the batch request. */
  batchOf?: number;
  throttled?: boolean;
  /** Arrived while a Retry-After the emulator gave for its scope had not yet passed. */
  beforeRetryAfter?: boolean;
  /** Why the emulator refused it, e.g. "missing application permission Sites.Read.All". */
  note?: string;
  bytesSent?: number;
}

export interface ThrottleRule {
  /** How many matching requests to refuse. */
  count: number;
  /** Limit to one tenant; omitted: any. */
  tenantId?: string;
  /** Limit to one user (id or UPN) or site (id or name); omitted: any. */
  owner?: string;
  host?: HostRole;
  status?: 429 | 503;
  retryAfterSeconds?: number;
  match?: (r: RequestRecord) => boolean;
}

export interface DownloadFailure {
  driveId: string;
  itemId: string;
  /** HTTP status to answer with (default 500)... */
  status?: number;
  /** ...or send this many bytes of the body, then cut the connection. */
  afterBytes?: number;
  /** How many downloads fail; default every one. */
  times?: number;
}

interface ActiveRule extends Required<Pick<ThrottleRule, 'count' | 'status' | 'retryAfterSeconds'>> {
  rule: ThrottleRule;
}

export class Traffic extends EventEmitter {
  readonly requests: RequestRecord[] = [];
  private seq = 0;
  private readonly inFlight = new Map<string, number>();
  private readonly peaks = new Map<string, number>();
  private rules: ActiveRule[] = [];
  /** scope key -> epoch ms before which a new request is "early". */
  private readonly fences = new Map<string, number>();
  private failures: DownloadFailure[] = [];

  begin(r: Omit<RequestRecord, 'seq' | 'start'>): RequestRecord {
    const rec: RequestRecord = { ...r, seq: ++this.seq, start: Date.now() };
    this.requests.push(rec);
    return rec;
  }

  /** Counts the request in flight for its tenant and owner once they are known; returns the function that ends it. */
  enter(rec: RequestRecord): () => void {
    const keys = scopeKeys(rec);
    for (const k of keys) {
      const n = (this.inFlight.get(k) ?? 0) + 1;
      this.inFlight.set(k, n);
      if (n > (this.peaks.get(k) ?? 0)) this.peaks.set(k, n);
    }
    const now = Date.now();
    if (keys.some((k) => (this.fences.get(k) ?? 0) > now)) rec.beforeRetryAfter = true;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const k of keys) this.inFlight.set(k, (this.inFlight.get(k) ?? 1) - 1);
    };
  }

  /** Requests of the record's app in flight now for its owner (Exchange counts per app per mailbox). */
  inFlightOf(rec: RequestRecord): number {
    return rec.owner ? (this.inFlight.get(`app:${rec.clientId ?? '?'}:${rec.owner.id}`) ?? 0) : 0;
  }

  finish(rec: RequestRecord, status: number): void {
    rec.status = status;
    rec.end = Date.now();
    this.emit('request', rec);
  }

  /** Peak of requests in flight at once for a tenant (by id) or an owner (user id/UPN, site id/name). */
  peakConcurrency(scope: { tenantId: string } | { owner: string }): number {
    if ('tenantId' in scope) return this.peaks.get(`tenant:${scope.tenantId}`) ?? 0;
    let best = 0;
    for (const [k, v] of this.peaks) if (k.startsWith('owner:') && ownerMatches(k, scope.owner)) best = Math.max(best, v);
    return best;
  }

  /** Clears the log and the peaks (not the rules), e.g. between a full and an incremental backup. */
  reset(): void {
    this.requests.length = 0;
    this.peaks.clear();
    for (const [k, v] of this.inFlight) if (v > 0) this.peaks.set(k, v);
  }

  throttle(rule: ThrottleRule): void {
    this.rules.push({ rule, count: rule.count, status: rule.status ?? 429, retryAfterSeconds: rule.retryAfterSeconds ?? 1 });
  }

  /** The throttling answer for a request, if a rule takes it; sets the Retry-After fence of its scope. */
  takeThrottle(rec: RequestRecord): { status: number; retryAfterSeconds: number } | undefined {
    for (const r of this.rules) {
      if (r.count <= 0) continue;
      const { rule } = r;
      if (rule.tenantId !== undefined && rule.tenantId !== rec.tenantId) continue;
      if (rule.owner !== undefined && !(rec.owner && (rec.owner.id === rule.owner || rec.owner.name.toLowerCase() === rule.owner.toLowerCase()))) continue;
      if (rule.host !== undefined && rule.host !== rec.host) continue;
      if (rule.match && !rule.match(rec)) continue;
      r.count--;
      this.rules = this.rules.filter((x) => x.count > 0);
      rec.throttled = true;
      const until = Date.now() + r.retryAfterSeconds * 1000;
      const key = rule.owner !== undefined && rec.owner ? `owner:${rec.owner.kind}:${rec.owner.id}:${rec.owner.name}` : `tenant:${rec.tenantId ?? '?'}`;
      this.fences.set(key, Math.max(this.fences.get(key) ?? 0, until));
      return { status: r.status, retryAfterSeconds: r.retryAfterSeconds };
    }
    return undefined;
  }

  /** A Retry-After given to a request for its owner: requests of that owner before it passes are flagged beforeRetryAfter. */
  fenceOwner(rec: RequestRecord, retryAfterSeconds: number): void {
    if (!rec.owner) return;
    const key = `owner:${rec.owner.kind}:${rec.owner.id}:${rec.owner.name}`;
    this.fences.set(key, Math.max(this.fences.get(key) ?? 0, Date.now() + retryAfterSeconds * 1000));
  }

  pendingThrottles(): number {
    return this.rules.reduce((n, r) => n + r.count, 0);
  }

  failDownload(f: DownloadFailure): void {
    this.failures.push({ ...f, times: f.times ?? Number.POSITIVE_INFINITY });
  }

  clearDownloadFailures(): void {
    this.failures.length = 0;
  }

  takeDownloadFailure(driveId: string, itemId: string): DownloadFailure | undefined {
    const f = this.failures.find((x) => x.driveId === driveId && x.itemId === itemId && (x.times ?? 0) > 0);
    if (f) f.times = (f.times ?? 1) - 1;
    return f;
  }

  /** Resolves with the first recorded request (past or future) that matches. */
  waitForRequest(pred: (r: RequestRecord) => boolean, timeoutMs = 30_000): Promise<RequestRecord> {
    const seen = this.requests.find((r) => r.end !== undefined && pred(r));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('request', on);
        reject(new Error('timed out waiting for a request to the Graph emulator'));
      }, timeoutMs);
      const on = (r: RequestRecord): void => {
        if (!pred(r)) return;
        clearTimeout(timer);
        this.off('request', on);
        resolve(r);
      };
      this.on('request', on);
    });
  }
}

function scopeKeys(rec: RequestRecord): string[] {
  const keys: string[] = [];
  if (rec.tenantId) keys.push(`tenant:${rec.tenantId}`);
  if (rec.owner) keys.push(`owner:${rec.owner.kind}:${rec.owner.id}:${rec.owner.name}`, `app:${rec.clientId ?? '?'}:${rec.owner.id}`);
  return keys;
}

function ownerMatches(key: string, who: string): boolean {
  const [, , id, ...name] = key.split(':');
  return id === who || name.join(':').toLowerCase() === who.toLowerCase();
}
