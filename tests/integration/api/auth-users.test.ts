import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, createUser, makeTempDir, readSetupCode, setupAdmin, startTestServer, type TestServer } from '../../support/test-server.js';

describe('first-run setup', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => t.destroy());

  it('refuses setup without the one-time code, or with a wrong one, and creates no user', async () => {
    const health = await t.api.request<{ setupRequired: boolean; setupCodeFile: string }>('GET', '/api/health');
    expect(health.body.setupRequired).toBe(true);
    expect(health.body.setupCodeFile).toBe(path.join(t.dataDir, 'setup-code'));
    // Only the server's machine can read it.
    expect(fs.statSync(health.body.setupCodeFile).mode & 0o777).toBe(0o600);
    const code = await readSetupCode(t.api);
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(t.server.setupCode()).toBe(code);

    const missing = await t.api.request<{ field?: string }>('POST', '/api/setup', { username: 'intruder', password: 'intruder-password-1' });
    expect(missing.status).toBe(400);
    expect(missing.body.field).toBe('setupCode');
    const wrong = await t.api.request<{ field?: string; message: string }>('POST', '/api/setup', { username: 'intruder', password: 'intruder-password-1', setupCode: 'AAAA-BBBB-CCCC' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.field).toBe('setupCode');
    expect(wrong.body.message).toContain(health.body.setupCodeFile);
    expect((await t.api.request<{ setupRequired: boolean }>('GET', '/api/health')).body.setupRequired).toBe(true);
    const login = await t.api.request('POST', '/api/auth/login', { username: 'intruder', password: 'intruder-password-1' });
    expect(login.status).toBe(401);
  });

  it('lets exactly one of two racing setups create the first admin, with a strict session cookie; the code is gone after', async () => {
    // Typed by a person: lower case, no dashes.
    const setupCode = (await readSetupCode(t.api)).replaceAll('-', '').toLowerCase();
    const [a, b] = await Promise.all([
      t.api.request('POST', '/api/setup', { username: 'first', password: 'first-password-1', setupCode }),
      t.api.request('POST', '/api/setup', { username: 'second', password: 'second-password-1', setupCode }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const winner = a.status === 201 ? a : b;
    const cookie = String(winner.headers['set-cookie']);
    expect(cookie).toMatch(/vplus_session=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const again = await t.api.request<{ message: string }>('POST', '/api/setup', { username: 'third', password: 'third-password-1', setupCode });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/already exists/);
    expect(fs.existsSync(path.join(t.dataDir, 'setup-code'))).toBe(false);
    expect(t.server.setupCode()).toBeNull();
    expect((await t.api.request<{ setupCodeFile: string | null }>('GET', '/api/health')).body.setupCodeFile).toBeNull();
    // The cookie alone authenticates the browser.
    const sessionCookie = cookie.split(';')[0]!;
    const me = await t.api.request<{ user: { role: string } }>('GET', '/api/auth/me', undefined, { cookie: sessionCookie });
    expect(me.body.user.role).toBe('admin');
  });
});

describe('unattended install with --admin-password-file', () => {
  it('creates admin from the file only while the catalog has no users', async () => {
    const dir = makeTempDir('pwfile');
    const file = path.join(dir, 'pw');
    fs.writeFileSync(file, 'from-the-file-1\n', { mode: 0o600 });
    const t = await startTestServer({ dataDir: path.join(dir, 'data'), adminPasswordFile: file });
    try {
      expect(await t.api.login('admin', 'from-the-file-1')).toBeTruthy();
      const audit = await t.api.request<{ entries: { action: string; actor: string }[] }>('GET', '/api/audit', undefined, { token: await t.api.login('admin', 'from-the-file-1') });
      expect(audit.body.entries.some((e) => e.action === 'setup.first_admin' && e.actor === 'system')).toBe(true);
      await t.stop();
      fs.writeFileSync(file, 'a-different-pass-2\n');
      const t2 = await startTestServer({ dataDir: path.join(dir, 'data'), adminPasswordFile: file });
      try {
        expect(await t2.api.login('admin', 'from-the-file-1')).toBeTruthy();
        expect((await t2.api.request('POST', '/api/auth/login', { username: 'admin', password: 'a-different-pass-2' })).status).toBe(401);
        expect(fs.statSync(path.join(dir, 'data', 'secret.key')).mode & 0o777).toBe(0o600);
        expect(fs.statSync(path.join(dir, 'data', 'tls', 'server.key')).mode & 0o777).toBe(0o600);
      } finally {
        await t2.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('users, roles, sessions and audit', () => {
  let t: TestServer;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
  });
  afterAll(async () => t.destroy());

  it('throttles password guessing per user and tells when to retry', async () => {
    await createUser(t.api, admin, 'guessme', 'viewer', 'guessme-password-1');
    for (let i = 0; i < 4; i++) {
      const res = await t.api.request<{ message: string }>('POST', '/api/auth/login', { username: 'guessme', password: `wrong-${i}` });
      expect(res.status).toBe(401);
      expect(res.body.message).toBe('wrong username or password');
    }
    const fifth = await t.api.request('POST', '/api/auth/login', { username: 'guessme', password: 'wrong-5' });
    expect(fifth.status).toBe(401);
    const locked = await t.api.request<{ message: string }>('POST', '/api/auth/login', { username: 'guessme', password: 'guessme-password-1' });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(locked.body.message).toMatch(/try again in \d+ seconds/);
  });

  it('counts failed sign-ins for every spelling of a name together: case, accents, spaces, ignorable characters', async () => {
    await createUser(t.api, admin, 'victim', 'viewer', 'victim-password-1');
    // The catalog takes each of these for "victim", so each reaches the same account.
    const spellings = ['victim ', 'VICTIM', 'vïctim', ' Víctim', 'vic\u200Btim', 'ｖｉｃｔｉｍ'];
    // Five failures (the free attempts), each with another spelling…
    for (const name of spellings.slice(0, 5)) {
      const res = await t.api.request('POST', '/api/auth/login', { username: name, password: 'wrong-password' });
      expect(res.status, JSON.stringify(name)).toBe(401);
    }
    // …lock the account under every spelling, the right password included.
    for (const name of ['victim', ...spellings]) {
      const res = await t.api.request<{ message: string }>('POST', '/api/auth/login', { username: name, password: 'victim-password-1' });
      expect(res.status, `${JSON.stringify(name)}: ${res.text}`).toBe(429);
    }
  });

  it('refuses a user whose name differs from an existing one only by case, accents or spaces, naming the field', async () => {
    await createUser(t.api, admin, 'zoë', 'viewer');
    for (const username of ['ZOË', 'zoe', 'Zoé']) {
      const res = await t.api.request<{ message: string; field: string }>('POST', '/api/users', { username, password: 'some-password-1', role: 'viewer' }, { token: admin });
      expect(res.status, username).toBe(409);
      expect(res.body).toMatchObject({ field: 'username', message: expect.stringMatching(/already exists/) });
    }
    // The stored name is the one typed (NFC), and every spelling signs in to it.
    const decomposed = await t.api.login('ZOE\u0308', 'zoë-password-1');
    const me = await t.api.request<{ user: { username: string } }>('GET', '/api/auth/me', undefined, { token: decomposed });
    expect(me.body.user.username).toBe('zoë');
    // A name of digits only would read as an id.
    const digits = await t.api.request<{ field: string }>('POST', '/api/users', { username: '42', password: 'some-password-1', role: 'viewer' }, { token: admin });
    expect(digits.status).toBe(400);
    expect(digits.body.field).toBe('username');
  });

  it('lets an operator read status and audit but not manage users', async () => {
    const op = await createUser(t.api, admin, 'olga', 'operator');
    expect((await t.api.request('GET', '/api/status', undefined, { token: op })).status).toBe(200);
    expect((await t.api.request('GET', '/api/audit', undefined, { token: op })).status).toBe(200);
    expect((await t.api.request('GET', '/api/users', undefined, { token: op })).status).toBe(403);
    const res = await t.api.request<{ message: string }>('POST', '/api/users', { username: 'sneaky', password: 'sneaky-pass-1', role: 'admin' }, { token: op });
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/operator/);
  });

  it('protects the last administrator and the caller’s own account', async () => {
    const demote = await t.api.request<{ field: string }>('PATCH', '/api/users/admin', { role: 'viewer' }, { token: admin });
    expect(demote.status).toBe(409);
    expect(demote.body.field).toBe('role');
    expect((await t.api.request('DELETE', '/api/users/admin', undefined, { token: admin })).status).toBe(409);
    const second = await createUser(t.api, admin, 'ada', 'admin');
    // With a second admin the first may be demoted, by someone else.
    expect((await t.api.request('PATCH', '/api/users/admin', { role: 'operator' }, { token: second })).status).toBe(200);
    expect((await t.api.request('PATCH', '/api/users/admin', { role: 'admin' }, { token: second })).status).toBe(200);
  });

  it('ends a user’s sessions when their password is reset, and records who did it', async () => {
    const victim = await createUser(t.api, admin, 'pete', 'viewer');
    expect((await t.api.request('GET', '/api/status', undefined, { token: victim })).status).toBe(200);
    const reset = await t.api.request('PATCH', '/api/users/pete', { password: 'brand-new-pass-1' }, { token: admin });
    expect(reset.status).toBe(200);
    expect(JSON.stringify(reset.body)).not.toContain('brand-new-pass-1');
    expect((await t.api.request('GET', '/api/status', undefined, { token: victim })).status).toBe(401);
    expect(await t.api.login('pete', 'brand-new-pass-1')).toBeTruthy();

    const audit = await t.api.request<{ entries: { actor: string; action: string; target: string; details: Record<string, unknown> | null }[] }>(
      'GET',
      '/api/audit?action=user.',
      undefined,
      { token: admin },
    );
    const entry = audit.body.entries.find((e) => e.action === 'user.update' && e.target === 'user:pete');
    expect(entry).toMatchObject({ actor: 'admin', details: { passwordChanged: true } });
    expect(JSON.stringify(audit.body)).not.toContain('brand-new-pass-1');
    // Users never carry their password hash out of the API.
    const users = await t.api.request('GET', '/api/users', undefined, { token: admin });
    expect(users.text).not.toMatch(/scrypt|password/i);
  });

  it('pushes live events over the WebSocket to signed-in clients only', async () => {
    const url = t.server.url.replace('https:', 'wss:') + '/api/events';
    const anon = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { agent: t.api.agent });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(anon).toBe(401);
    const foreign = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { agent: t.api.agent, headers: { authorization: `Bearer ${admin}`, origin: 'https://evil.example' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(foreign).toBe(403);

    const ws = new WebSocket(url, { agent: t.api.agent, headers: { authorization: `Bearer ${admin}` } });
    const events: { type: string; entry?: { action: string } }[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        events.push(JSON.parse(data.toString()) as { type: string });
        if (events[0]?.type === 'hello') resolve();
      });
      ws.on('error', reject);
    });
    await createUser(t.api, admin, 'live-user', 'viewer');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !events.some((e) => e.type === 'users.changed')) await new Promise((r) => setTimeout(r, 50));
    ws.close();
    expect(events.map((e) => e.type)).toContain('users.changed');
    expect(events.some((e) => e.type === 'audit' && e.entry?.action === 'user.create')).toBe(true);
  });

  it('keeps the admin signed in through its cookie across a server restart', async () => {
    const login = await t.api.request('POST', '/api/auth/login', ADMIN);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    await t.stop();
    const t2 = await startTestServer({ dataDir: t.dataDir });
    try {
      expect((await t2.api.request('GET', '/api/auth/me', undefined, { cookie })).status).toBe(200);
    } finally {
      await t2.stop();
    }
  });
});
