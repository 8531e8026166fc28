import { ApiErrorSchema } from '@common/api/index.js';
import type { ZodType } from 'zod';
import { ApiRequestError } from './api-error.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type QueryParams = Record<string, string | number | undefined>;

export interface RequestOptions {
  body?: unknown;
  query?: QueryParams;
  signal?: AbortSignal;
  /**
   * Sign-in and the session probe expect 401 as an answer, not as "your session ended",
   * so they must not trigger the redirect to the sign-in page.
   */
  expectUnauthorized?: boolean;
  /** Extra request headers, e.g. a Range. */
  headers?: Record<string, string>;
}

/** Part of a file, as read by a Range request. */
export interface ByteRange {
  bytes: ArrayBuffer;
  /** The whole file's size, when the server said (Content-Range). */
  total: number | null;
}

export interface ApiClientOptions {
  /** Called on 401 from any request that did not expect it: the session is gone. */
  onUnauthorized: () => void;
  fetchFn?: typeof fetch;
}

/** Typed fetch wrapper for the same-origin REST API; every response is checked by its zod schema. */
export class ApiClient {
  readonly #onUnauthorized: () => void;
  readonly #fetch: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.#onUnauthorized = options.onUnauthorized;
    // Bound, because calling window.fetch detached from window throws "Illegal invocation".
    this.#fetch = options.fetchFn ?? window.fetch.bind(window);
  }

  async json<T>(method: Method, path: string, schema: ZodType<T>, options: RequestOptions = {}): Promise<T> {
    const response = await this.#send(method, path, options);
    const parsed = schema.safeParse(await readJson(response));
    if (!parsed.success) {
      throw new ApiRequestError(response.status, {
        error: 'UNEXPECTED_RESPONSE',
        message: `The server sent an unexpected answer to ${method} ${path}. Is the UI newer than the server?`,
      });
    }
    return parsed.data;
  }

  /** For endpoints that answer 204 No Content. */
  async empty(method: Method, path: string, options: RequestOptions = {}): Promise<void> {
    await this.#send(method, path, options);
  }

  /**
   * The first `length` bytes of a file (previews), asked for with a Range header so a large
   * file is never read whole into memory; downloads go through plain links instead.
   */
  async range(path: string, length: number, options: Omit<RequestOptions, 'body'> = {}): Promise<ByteRange> {
    const response = await this.#send('GET', path, { ...options, headers: { accept: '*/*', ...options.headers, range: `bytes=0-${length - 1}` } });
    const total = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1];
    return { bytes: await readAtMost(response, length), total: total === undefined ? null : Number(total) };
  }

  async #send(method: Method, path: string, options: RequestOptions): Promise<Response> {
    const hasBody = options.body !== undefined;
    let response: Response;
    try {
      response = await this.#fetch(withQuery(path, options.query), {
        method,
        credentials: 'same-origin',
        headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), accept: 'application/json', ...options.headers },
        body: hasBody ? JSON.stringify(options.body) : null,
        signal: options.signal ?? null,
      });
    } catch (cause) {
      // An abort is the caller's own doing (TanStack Query cancelling); pass it through untouched.
      if (options.signal?.aborted === true) throw cause;
      throw new ApiRequestError(
        0,
        { error: 'NETWORK', message: 'Cannot reach the vPlus server. Check that it is running, then try again.' },
        { cause },
      );
    }
    if (response.ok) return response;

    const body = ApiErrorSchema.safeParse(await readJson(response));
    const error = new ApiRequestError(
      response.status,
      body.success
        ? body.data
        : { error: `HTTP_${response.status}`, message: `The server answered ${response.status} ${response.statusText}.`.trim() },
    );
    if (response.status === 401 && options.expectUnauthorized !== true) this.#onUnauthorized();
    throw error;
  }
}

function withQuery(path: string, query: QueryParams | undefined): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const search = params.toString();
  return search === '' ? path : `${path}?${search}`;
}

/** Error pages from proxies are not JSON; treat an unreadable body as "no body". */
async function readJson(response: Response): Promise<unknown> {
  if (response.status === 204) return undefined;
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A server that ignores Range answers 200 with the whole file: read no more than asked for. */
async function readAtMost(response: Response, length: number): Promise<ArrayBuffer> {
  const out = new Uint8Array(length);
  let filled = 0;
  const reader = response.body?.getReader();
  if (reader === undefined) return out.buffer.slice(0, 0);
  while (filled < length) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.byteLength, length - filled);
    out.set(value.subarray(0, take), filled);
    filled += take;
  }
  await reader.cancel();
  return out.buffer.slice(0, filled);
}
