import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { z } from 'zod';
import { ApiErrorSchema } from '../../common/api/index.js';
import { PinnedAgent } from '../../common/net/pinned-agent.js';
import { CliError } from '../errors.js';
import { ApiConnectionError, ApiRequestError, describeRequestFailure } from './api-errors.js';
import type { ApiClientOptions, ApiStream, RequestOptions } from './api-types.js';
import { eventsUrl, openEventStream, type EventStream } from './event-stream.js';

export const NOT_LOGGED_IN = 'not logged in or the session expired; run vplus login';

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** An error answer to a download is a small JSON body; more is not read. */
const MAX_ERROR_BYTES = 64 * 1024;
/** A download is dropped when nothing arrives for this long (the node may pause while it reads a big folder). */
const STREAM_IDLE_TIMEOUT_MS = 120_000;

/**
 * How the CLI talks to the server: JSON requests and streamed downloads over a connection
 * pinned to one certificate, answers checked against their schema, and every failure turned
 * into a CliError that says what to do. ApiClient adds the API's operations on top.
 */
export class ApiTransport {
  protected readonly agent: PinnedAgent;
  private readonly origin: URL;

  constructor(protected readonly options: ApiClientOptions) {
    this.agent = new PinnedAgent(options.fingerprint);
    this.origin = new URL(options.server);
  }

  get server(): string {
    return this.origin.origin;
  }

  /**
   * The live event stream, over the same pinned agent and token as the REST
   * calls. Rejects when the server (or something in between) refuses it.
   */
  openEvents(): Promise<EventStream> {
    return openEventStream({ url: eventsUrl(this.server), agent: this.agent, token: this.options.token });
  }

  /** Drops the kept-alive connection so the process can exit. */
  close(): void {
    this.agent.destroy();
  }

  request<T>(method: string, path: string, options: RequestOptions<T> & { schema: z.ZodType<T> }): Promise<T>;
  request(method: string, path: string, options?: RequestOptions<unknown>): Promise<unknown>;
  async request<T>(method: string, path: string, options: RequestOptions<T> = {}): Promise<unknown> {
    const what = `${method} ${path}`;
    let response: RawResponse;
    try {
      response = await this.send(method, path, options.body, options.timeoutMs);
    } catch (err) {
      throw this.connectionError(err);
    }
    const body = parseJson(response.body);
    if (response.status >= 200 && response.status < 300) {
      if (!options.schema) return body;
      const parsed = options.schema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue ? ` (${issue.path.join('.') || 'body'}: ${issue.message})` : '';
        throw new CliError(
          `the server's answer to ${what} is not what this CLI expects${where}; are the CLI and the server the same version?`,
        );
      }
      return parsed.data;
    }
    throw apiError(response.status, body, what, options.unauthorized ?? 'session');
  }

  /**
   * A GET whose answer is read as a stream (downloads) rather than held in
   * memory; the caller consumes or destroys `body`. The timeout is for
   * silence: the connection is dropped when no byte comes for that long.
   * A non-2xx answer is read (it is a small JSON error) and thrown as for
   * request().
   */
  async stream(method: string, path: string, timeoutMs = STREAM_IDLE_TIMEOUT_MS): Promise<ApiStream> {
    const what = `${method} ${path}`;
    let res: IncomingMessage;
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = https.request(this.requestOptions(method, path, this.headers('*/*')), resolve);
        req.setTimeout(timeoutMs, () => {
          req.destroy(Object.assign(new Error(`no data within ${timeoutMs / 1000}s`), { code: 'ETIMEDOUT' }));
        });
        req.on('error', reject);
        req.end();
      });
    } catch (err) {
      throw this.connectionError(err);
    }
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      const length = Number(res.headers['content-length']);
      return { body: res, size: Number.isSafeInteger(length) && length >= 0 ? length : null, contentType: res.headers['content-type'] ?? null };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res) {
        size += (chunk as Buffer).length;
        if (size > MAX_ERROR_BYTES) break;
        chunks.push(chunk as Buffer);
      }
    } catch {
      // What arrived of the error is enough to describe it.
    } finally {
      res.destroy();
    }
    throw apiError(status, parseJson(Buffer.concat(chunks).toString('utf8')), what, 'session');
  }

  private send(method: string, path: string, body: unknown, timeout?: number): Promise<RawResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers = this.headers('application/json');
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const timeoutMs = timeout ?? this.options.timeoutMs ?? 30_000;

    return new Promise((resolve, reject) => {
      const req = https.request(
        this.requestOptions(method, path, headers),
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(new Error(`the answer to ${method} ${path} is larger than ${MAX_RESPONSE_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => {
        req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000}s`), { code: 'ETIMEDOUT' }));
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    return headers;
  }

  /** Every request goes over the pinned agent: nothing is sent to a server whose certificate does not match. */
  private requestOptions(method: string, path: string, headers: Record<string, string>): https.RequestOptions {
    return {
      agent: this.agent,
      method,
      protocol: 'https:',
      hostname: this.origin.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: this.origin.port || 443,
      path,
      headers,
    };
  }

  private connectionError(err: unknown): CliError {
    const message = describeRequestFailure(err, this.server);
    // A certificate that stopped matching is not a hiccup to wait out.
    const pinMismatch = (err as { code?: unknown } | null)?.code === 'CERT_FINGERPRINT_MISMATCH';
    return pinMismatch ? new CliError(message) : new ApiConnectionError(message);
  }
}

interface RawResponse {
  status: number;
  body: string;
}

/** "path=vda1%2Fetc&limit=500"; an array gives the key once per value; undefined values are left out. */
export function queryString(query: Readonly<Record<string, string | number | readonly string[] | undefined>>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
  }
  return params.toString();
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function apiError(status: number, body: unknown, what: string, unauthorized: 'session' | 'server-message'): ApiRequestError {
  const parsed = ApiErrorSchema.safeParse(body);
  const code = parsed.success ? parsed.data.error : undefined;
  const serverMessage = parsed.success ? parsed.data.message : undefined;
  if (status === 401 && unauthorized === 'session') return new ApiRequestError(NOT_LOGGED_IN, status, code);
  // A tool's raw output (virsh, …) that the UI folds behind "Details": a terminal shows it on the next line.
  const detail = parsed.success && parsed.data.detail ? `\ndetails: ${parsed.data.detail}` : '';
  if (serverMessage) return new ApiRequestError(`${serverMessage}${detail}`, status, code);
  if (status === 401) return new ApiRequestError('the server refused the credentials', status, code);
  if (status === 403) return new ApiRequestError('your account is not allowed to do this', status, code);
  if (status === 404) {
    return new ApiRequestError(`the server does not know ${what}; are the CLI and the server the same version?`, status, code);
  }
  return new ApiRequestError(`the server answered ${what} with HTTP ${status}`, status, code);
}
