import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

/**
 * Walks every route in the generated OpenAPI document, so a route added later
 * is covered without editing this file: anonymous calls get 401, viewers get
 * 403 on anything that changes state, and junk input never produces a 500.
 */
/** Public by design; enroll is authenticated by its one-time token instead. */
const PUBLIC = new Set(['GET /api/health', 'POST /api/setup', 'POST /api/auth/login', 'POST /api/node/enroll']);
/** Changes a viewer may make to their own session. */
const SELF_SERVICE = new Set(['POST /api/auth/logout']);
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

interface Route {
  method: string;
  path: string;
  hasBody: boolean;
}

describe('API contract over every route', () => {
  let t: TestServer;
  let routes: Route[];
  let adminToken: string;
  let viewerToken: string;

  beforeAll(async () => {
    t = await startTestServer();
    adminToken = await setupAdmin(t.api);
    viewerToken = await createUser(t.api, adminToken, 'vera', 'viewer');
    const doc = await t.api.request<{ paths: Record<string, Record<string, { requestBody?: unknown }>> }>('GET', '/api/docs/json');
    expect(doc.status).toBe(200);
    routes = Object.entries(doc.body.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, hasBody: op.requestBody !== undefined })),
    );
  });
  afterAll(async () => t.destroy());

  const concrete = (p: string): string => p.replace(/\{[^}]+\}/g, 'nobody');

  it('documents the routes it serves', () => {
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    for (const expected of ['GET /api/health', 'GET /api/status', 'POST /api/users', 'DELETE /api/users/{user}', 'GET /api/audit']) {
      expect(keys).toContain(expected);
    }
  });

  it('rejects anonymous calls with 401 on every non-public route', async () => {
    for (const r of routes) {
      if (PUBLIC.has(`${r.method} ${r.path}`)) continue;
      const res = await t.api.request(r.method, concrete(r.path), r.hasBody ? {} : undefined);
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
      expect(res.body).toMatchObject({ error: 'UNAUTHENTICATED' });
    }
  });

  it('rejects a forged or revoked token with 401', async () => {
    const forged = await t.api.request('GET', '/api/status', undefined, { token: 'not-a-real-token' });
    expect(forged.status).toBe(401);
    const token = await t.api.login('vera', 'vera-password-1');
    expect((await t.api.request('POST', '/api/auth/logout', undefined, { token })).status).toBe(204);
    expect((await t.api.request('GET', '/api/status', undefined, { token })).status).toBe(401);
  });

  it('rejects viewers with 403 on every route that changes something', async () => {
    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      if (!MUTATING.has(r.method) || PUBLIC.has(key) || SELF_SERVICE.has(key)) continue;
      const res = await t.api.request(r.method, concrete(r.path), r.hasBody ? {} : undefined, { token: viewerToken });
      expect({ route: key, status: res.status }).toEqual({ route: key, status: 403 });
    }
  });

  it('answers junk input with a 4xx carrying a message, never a 500', async () => {
    const junk: { raw?: string; body?: unknown; contentType?: string }[] = [
      { raw: '{"unterminated": ' },
      { raw: 'not json at all' },
      { body: [] },
      { body: null },
      { body: 'a string' },
      { body: { username: 42, password: { nested: true }, role: 'emperor' } },
      { body: { username: 'x'.repeat(10_000), password: 'y'.repeat(10_000) } },
      { raw: 'username=a&password=b', contentType: 'application/x-www-form-urlencoded' },
    ];
    // Logging out would end the admin session the rest of this file uses; it takes no body anyway.
    for (const r of routes.filter((x) => !SELF_SERVICE.has(`${x.method} ${x.path}`))) {
      for (const token of [undefined, adminToken]) {
        for (const j of junk) {
          const res = await t.api.request(r.method, concrete(r.path) + '?limit=-5&offset=abc', j.body, {
            ...(token ? { token } : {}),
            ...(j.raw !== undefined ? { raw: j.raw } : {}),
            ...(j.contentType ? { contentType: j.contentType } : {}),
          });
          const label = `${r.method} ${r.path} ${JSON.stringify(j).slice(0, 60)} → ${res.status} ${res.text.slice(0, 120)}`;
          expect(res.status, label).toBeLessThan(500);
          if (res.status >= 400) {
            expect(typeof (res.body as { message?: unknown }).message, label).toBe('string');
          }
        }
      }
    }
  });

  it('names the offending field in validation errors', async () => {
    const cases: [unknown, string][] = [
      [{ username: 'ok-name', password: 'short', role: 'viewer' }, 'password'],
      [{ username: 'ok-name', password: 'long-enough-1', role: 'emperor' }, 'role'],
      [{ username: 'bad name!', password: 'long-enough-1', role: 'viewer' }, 'username'],
      [{ password: 'long-enough-1', role: 'viewer' }, 'username'],
    ];
    for (const [body, field] of cases) {
      const res = await t.api.request<{ error: string; field: string; message: string }>('POST', '/api/users', body, { token: adminToken });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe(field);
      expect(res.body.message).toContain(field);
    }
    const query = await t.api.request<{ field: string }>('GET', '/api/audit?limit=100000', undefined, { token: adminToken });
    expect(query.status).toBe(400);
    expect(query.body.field).toBe('limit');
  });

  it('returns JSON 404 for unknown API paths and the UI for client routes', async () => {
    const res = await t.api.request<{ error: string }>('GET', '/api/no-such-thing', undefined, { token: adminToken });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('NOT_FOUND');
    const page = await t.api.request('GET', '/settings/users');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
  });
});
