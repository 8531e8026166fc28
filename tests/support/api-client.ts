import { createWriteStream } from 'node:fs';
import https from 'node:https';
import { PinnedAgent } from '../../common/net/pinned-agent.js';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  cookie?: string;
  /** Raw body (sent as-is) instead of JSON. */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * A small HTTPS client for tests. It talks to the server through the same
 * certificate pinning the CLI and nodes use, so every test also exercises it.
 */
export class ApiClient {
  readonly agent: PinnedAgent;

  constructor(
    readonly baseUrl: string,
    fingerprint: string,
  ) {
    this.agent = new PinnedAgent(fingerprint, { keepAlive: false });
  }

  request<T = unknown>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = new URL(path, this.baseUrl);
    const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const headers: Record<string, string> = { ...opts.headers };
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.cookie) headers.cookie = opts.cookie;
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T, text });
        });
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** A GET whose body is streamed to `file` (downloads: never held in memory). */
  download(path: string, file: string, opts: RequestOptions = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number }> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    return new Promise((resolve, reject) => {
      const req = https.request(new URL(path, this.baseUrl), { method: 'GET', agent: this.agent, headers }, (res) => {
        const out = createWriteStream(file);
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.pipe(out);
        out.on('finish', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
        out.on('error', reject);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  async login(username: string, password: string): Promise<string> {
    const res = await this.request<{ token?: string; message?: string }>('POST', '/api/auth/login', { username, password, issueToken: true });
    if (res.status !== 200 || !res.body.token) throw new Error(`login as ${username} failed: ${res.status} ${res.text}`);
    return res.body.token;
  }
}
