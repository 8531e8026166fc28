import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'undici';
import { CloudError, graphErrorOf, networkReason, ResyncRequiredError, type GraphErrorBody } from './cloud-errors.js';
import type { HttpTransport } from './http-transport.js';
import { ConcurrencyLimits, retryAfterMs, ThrottleFence } from './limits.js';
import { graphEndpoints, type TenantSettings } from './tenant-settings.js';
import type { TokenProvider } from './token-provider.js';

export interface GraphRequest {
  /** What the call does, for messages ("list the users", "read alice's drive"). */
  what: string;
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** JSON body (an object) or raw bytes. */
  body?: unknown;
  headers?: Record<string, string>;
  /** The user, site or mailbox the call is about: its concurrency limit applies. */
  owner?: string;
  signal?: AbortSignal;
  /** false for pre-authenticated URLs (download/upload URLs must not get the bearer token). */
  auth?: boolean;
  /** Statuses other than 2xx that the caller handles itself (e.g. 302 of /content). */
  accept?: number[];
}

export interface GraphPage<T> {
  items: T[];
  /** Present on the last page of a delta enumeration. */
  deltaLink: string | null;
}

export interface GraphClientOptions {
  perOwner?: number;
  perTenant?: number;
  /** Attempts per request when throttled or on transient failures. */
  maxAttempts?: number;
  /** Wait when a throttled answer gives no Retry-After (doubles per attempt). */
  backoffMs?: number;
  onThrottled?: (info: { what: string; waitMs: number; status: number }) => void;
}

const TRANSIENT = new Set([500, 502, 504]);

/**
 * Microsoft Graph for one tenant: bearer tokens, the tenant's throttling fence (429/503 with
 * Retry-After hold every request of the tenant), per-owner and per-tenant concurrency,
 * bounded retries of transient failures, and errors an admin can act on. Absolute URLs that
 * Graph hands out (next/delta links, download and upload URLs) are followed as they are.
 */
export class GraphClient {
  readonly base: string;
  private readonly limits: ConcurrencyLimits;
  private readonly fence = new ThrottleFence();
  private readonly maxAttempts: number;
  private readonly backoffMs: number;

  constructor(
    settings: TenantSettings,
    private readonly transport: HttpTransport,
    private readonly tokens: TokenProvider,
    private readonly options: GraphClientOptions = {},
  ) {
    this.base = graphEndpoints(settings).base;
    this.limits = new ConcurrencyLimits({ perOwner: options.perOwner ?? 4, perTenant: options.perTenant ?? 16 });
    this.maxAttempts = options.maxAttempts ?? 8;
    this.backoffMs = options.backoffMs ?? 1000;
  }

  url(pathOrUrl: string): string {
    return /^https?:\/\//i.test(pathOrUrl) ? pathOrUrl : `${this.base}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
  }

  async json<T>(pathOrUrl: string, req: GraphRequest): Promise<T> {
    return this.send(pathOrUrl, req, async (res) => {
      const text = await res.text();
      return (text ? JSON.parse(text) : {}) as T;
    });
  }

  /** Every page of a collection, following @odata.nextLink; the last page of a delta has its deltaLink. */
  async *pages<T>(pathOrUrl: string, req: GraphRequest): AsyncGenerator<GraphPage<T>> {
    let next: string | undefined = pathOrUrl;
    while (next !== undefined) {
      const page: { value?: T[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string } = await this.json(next, req);
      yield { items: page.value ?? [], deltaLink: page['@odata.deltaLink'] ?? null };
      next = page['@odata.nextLink'];
    }
  }

  /**
   * Sends a request, retrying throttled and transient failures, and hands the response to
   * `consume` while the concurrency slot is held (a download's body counts as in flight).
   */
  async send<T>(pathOrUrl: string, req: GraphRequest, consume: (res: Response) => Promise<T>): Promise<T> {
    const url = this.url(pathOrUrl);
    const auth = req.auth ?? true;
    let freshToken = false;
    for (let attempt = 1; ; attempt++) {
      const release = await this.limits.acquire(req.owner, req.signal);
      let retryIn: number | null = null;
      let passed: ((throttled: boolean) => void) | null = null;
      let throttled = false;
      try {
        const headers: Record<string, string> = { ...req.headers };
        if (auth) headers.authorization = `Bearer ${(await this.tokens.token(freshToken)).token}`;
        // Last before sending: a token fetch may have taken longer than a fence set meanwhile.
        passed = await this.fence.pass(req.signal);
        let body: string | Uint8Array | undefined;
        if (req.body instanceof Uint8Array) body = req.body;
        else if (req.body !== undefined) {
          body = JSON.stringify(req.body);
          headers['content-type'] ??= 'application/json';
        }
        let res: Response;
        try {
          res = await this.transport.fetch(url, { method: req.method ?? 'GET', headers, body, signal: req.signal, redirect: 'manual' });
        } catch (err) {
          if (req.signal?.aborted) throw new CloudError('M365_CANCELLED', `${req.what}: cancelled`);
          const reason = networkReason(err);
          if (attempt < this.maxAttempts && reason !== null && !/certificate|TLS/.test(reason)) {
            retryIn = this.backoff(attempt);
            continue;
          }
          throw new CloudError('M365_UNREACHABLE', `${req.what}: cannot reach ${new URL(url).host}: ${reason ?? (err as Error).message}`);
        }
        throttled = res.status === 429 || res.status === 503;
        const wait = throttled ? (retryAfterMs(res.headers.get('retry-after')) ?? this.backoff(attempt)) : 0;
        if (throttled) this.fence.hold(wait);
        passed(throttled); // the fence's first request is answered: the others may follow (or wait again)
        passed = null;
        if (throttled) {
          await res.body?.cancel();
          this.options.onThrottled?.({ what: req.what, waitMs: wait, status: res.status });
          if (attempt < this.maxAttempts) continue;
          throw new CloudError('M365_THROTTLED', `${req.what}: Microsoft Graph kept throttling the tenant (${res.status}) after ${attempt} attempts; try again later`, undefined, res.status);
        }
        if (res.status === 401 && auth && !freshToken) {
          await res.body?.cancel();
          freshToken = true;
          continue;
        }
        if (TRANSIENT.has(res.status) && attempt < this.maxAttempts && (req.method ?? 'GET') === 'GET') {
          await res.body?.cancel();
          retryIn = this.backoff(attempt);
          continue;
        }
        if ((res.status >= 200 && res.status < 300) || req.accept?.includes(res.status)) return await consume(res);
        const errorBody = await readError(res);
        if (res.status === 410) throw new ResyncRequiredError(req.what, errorBody?.error?.code ?? 'resyncRequired', res.headers.get('location'));
        throw graphErrorOf(res.status, errorBody, req.what);
      } finally {
        passed?.(throttled);
        release();
        if (retryIn !== null) await sleep(retryIn, undefined, { signal: req.signal });
      }
    }
  }

  private backoff(attempt: number): number {
    return Math.min(60_000, this.backoffMs * 2 ** (attempt - 1));
  }
}

async function readError(res: Response): Promise<GraphErrorBody | null> {
  try {
    const text = await res.text();
    return text ? (JSON.parse(text) as GraphErrorBody) : null;
  } catch {
    return null;
  }
}
