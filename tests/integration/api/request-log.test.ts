import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../../electron/server/logger.js';
import { setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/** Everything the server logs, as parsed JSON lines. */
class CapturedLog extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
}

const SECRET = 'q5-secret-token-value';

/**
 * A URL's query string can carry a token (a link someone pasted, a WebSocket opened with
 * ?token=…): the server log records the method and the path only.
 */
describe('the server log', () => {
  const log = new CapturedLog();
  let t: TestServer;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer({}, { logger: pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, log) });
    admin = await setupAdmin(t.api);
  });
  afterAll(async () => t?.destroy());

  it('records requests without their query strings', async () => {
    expect((await t.api.request('GET', `/api/status?token=${SECRET}`, undefined, { token: admin })).status).toBe(200);
    expect((await t.api.request('GET', `/api/status?token=${SECRET}`)).status).toBe(401);
    expect((await t.api.request('GET', `/api/no-such-route?token=${SECRET}&x=1`)).status).toBe(404);
    expect((await t.api.request('GET', `/api/audit?limit=0&token=${SECRET}`, undefined, { token: admin })).status).toBe(400);
    expect((await t.api.request('GET', `/policies?token=${SECRET}`)).status).toBe(200);
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${t.server.url.replace('https:', 'wss:')}/api/events?token=${SECRET}`, { agent: t.api.agent });
      ws.on('unexpected-response', () => resolve());
      ws.on('open', () => {
        ws.close();
        resolve();
      });
      ws.on('error', () => resolve());
    });

    const urls = await waitFor('the requests in the log', async () => {
      const seen = log.lines.flatMap((l) => {
        const req = l['req'] as { url?: string } | undefined;
        return req?.url ? [req.url] : [];
      });
      const paths = seen.map((u) => u.split('?')[0]);
      return paths.includes('/api/events') && paths.includes('/policies') ? seen : undefined;
    }, 10_000);
    expect(urls.every((u) => !u.includes('?')), urls.join(' ')).toBe(true);
    expect(urls).toContain('/api/status');
    expect(urls).toContain('/api/no-such-route');
    expect(urls).toContain('/api/audit');
    const all = log.raw.join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('token=');
  });
});
