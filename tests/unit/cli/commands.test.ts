import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient, NOT_LOGGED_IN, describeRequestFailure } from '../../../cli/client/api-client.js';
import { SAMPLE_USER, runVplus, startFakeApi, tempDir, unusedPort, type FakeApiServer, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

const STATUS = {
  status: 'ok',
  version: '0.1.0',
  catalog: { engine: 'MariaDB', version: '10.11.6', mode: 'managed', ok: true },
  tlsFingerprint: '',
  setupRequired: false,
  setupCodeFile: null,
  time: '2025-01-31T12:00:00.000Z',
  startedAt: '2025-01-31T09:00:00.000Z',
  uptimeSeconds: 3 * 3600 + 125,
  dataDir: '/var/lib/vplus',
  users: 2,
  migrations: ['2025-01-01-0001-init'],
  nodes: { total: 3, online: 2 },
  tasks: { queued: 4, running: 1 },
};
const BOB = { id: 2, username: 'bob', role: 'operator', createdAt: '2025-01-31T10:00:00.000Z', lastLoginAt: null };

describe('commands against the API', () => {
  let api: FakeApiServer;
  let users: (typeof SAMPLE_USER | typeof BOB)[];
  let env: Record<string, string>;

  beforeEach(async () => {
    users = [SAMPLE_USER, BOB];
    api = await startFakeApi(({ method, url, authorization, body }) => {
      if (authorization !== 'Bearer good-token') {
        return { status: 401, body: { error: 'UNAUTHENTICATED', message: 'log in first' } };
      }
      if (method === 'GET' && url === '/api/status') return { status: 200, body: { ...STATUS, tlsFingerprint: api.fingerprint } };
      if (method === 'GET' && url === '/api/users') return { status: 200, body: users };
      if (method === 'POST' && url === '/api/users') {
        const input = JSON.parse(body) as { username: string; role: string };
        if (users.some((u) => u.username === input.username)) {
          return { status: 409, body: { error: 'CONFLICT', message: `a user named "${input.username}" already exists`, field: 'username' } };
        }
        return { status: 201, body: { id: 9, username: input.username, role: input.role, createdAt: BOB.createdAt, lastLoginAt: null } };
      }
      if (method === 'DELETE' && url === '/api/users/bob') return { status: 204 };
      if (method === 'DELETE') return { status: 404, body: { error: 'NOT_FOUND', message: 'there is no user "x y"' } };
      if (method === 'POST' && url === '/api/auth/logout') return { status: 204 };
      return { status: 404 };
    });
    const configFile = path.join(tempDir('cmd'), 'cli.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({ server: api.url, fingerprint: api.fingerprint, token: 'good-token', user: 'admin' }),
      { mode: 0o600 },
    );
    env = { VPLUS_CONFIG: configFile };
  });
  afterEach(async () => {
    await api.close();
  });

  it('status prints version, catalog, fingerprint, uptime and users', async () => {
    const run = await runVplus(['status'], { env });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Server:       ${api.url} (logged in as admin)`);
    expect(run.stdout).toContain('Version:      0.1.0');
    expect(run.stdout).toContain('Catalog:      MariaDB 10.11.6, managed');
    expect(run.stdout).toContain(`Fingerprint:  ${api.fingerprint}`);
    expect(run.stdout).toMatch(/Uptime: +3h 02m/);
    expect(run.stdout).toContain('Nodes:        2 of 3 online');
    expect(run.stdout).toContain('Tasks:        1 running, 4 queued');
    expect(run.stdout).toContain('Users:        2');
    expect(run.stdout).not.toContain('good-token');
  });

  it('status --json prints only JSON', async () => {
    const run = await runVplus(['status', '--json'], { env });
    expect(run.code).toBe(0);
    const parsed = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(parsed).toMatchObject({ server: api.url, version: '0.1.0', users: 2, uptimeSeconds: STATUS.uptimeSeconds });
  });

  it('user list prints a table, and --json an array with ids', async () => {
    const table = await runVplus(['user', 'list'], { env });
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+ROLE\s+CREATED\s+LAST LOGIN$/);
    expect(table.stdout).toMatch(/^2\s+bob\s+operator\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+never$/m);
    const json = await runVplus(['user', 'list', '--json'], { env });
    const list = JSON.parse(json.stdout) as { id: number; username: string }[];
    expect(Array.isArray(list)).toBe(true);
    expect(list.map((u) => [u.id, u.username])).toEqual([
      [1, 'admin'],
      [2, 'bob'],
    ]);
  });

  it('user add sends the password from stdin and never prints it', async () => {
    const run = await runVplus(['user', 'add', 'carol', '--role', 'viewer', '--password-stdin'], {
      env,
      stdin: 'carol-password-1\n',
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Created user carol (viewer).\n');
    expect(JSON.parse(api.requests.at(-1)!.body)).toEqual({ username: 'carol', password: 'carol-password-1', role: 'viewer' });
    expect(run.stdout + run.stderr).not.toContain('carol-password-1');
  });

  it('user add reports a conflict with the server sentence, exit 1', async () => {
    const run = await runVplus(['user', 'add', 'bob', '--role', 'viewer', '--password-stdin'], { env, stdin: 'long-password-1' });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: a user named "bob" already exists\n');
  });

  it('user add refuses a short password before calling the server', async () => {
    const before = api.requests.length;
    const run = await runVplus(['user', 'add', 'dave', '--role', 'viewer', '--password-stdin'], { env, stdin: 'short\n' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid password: password must be at least 8 characters/);
    expect(api.requests.length).toBe(before);
  });

  it('user remove addresses the user by name, URL-encoded', async () => {
    expect((await runVplus(['user', 'remove', 'bob'], { env })).stdout).toBe('Removed user bob.\n');
    const missing = await runVplus(['user', 'remove', 'x y'], { env });
    expect(missing.code).toBe(1);
    expect(api.requests.at(-1)!.url).toBe('/api/users/x%20y');
  });

  it('a rejected token says to log in again', async () => {
    const run = await runVplus(['user', 'list'], { env: { ...env, VPLUS_TOKEN: 'expired' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`error: ${NOT_LOGGED_IN}\n`);
    expect(run.stdout).toBe('');
  });

  it('logout ends the session on the server and forgets the token but keeps the pin', async () => {
    const run = await runVplus(['logout'], { env });
    expect(run.code).toBe(0);
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', url: '/api/auth/logout', authorization: 'Bearer good-token' });
    const saved = JSON.parse(fs.readFileSync(env.VPLUS_CONFIG!, 'utf8')) as Record<string, unknown>;
    expect(saved).toEqual({ server: api.url, fingerprint: api.fingerprint });
  });

  it('does not send the stored token to another server named by VPLUS_SERVER', async () => {
    const other = await startFakeApi(() => ({ status: 200, body: [] }));
    try {
      const run = await runVplus(['user', 'list'], {
        env: { ...env, VPLUS_SERVER: other.url, VPLUS_FINGERPRINT: other.fingerprint },
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`error: ${NOT_LOGGED_IN}\n`);
      expect(other.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});

describe('ApiClient failures are actionable sentences', () => {
  it('connection refused', async () => {
    const port = await unusedPort();
    const client = new ApiClient({ server: `https://127.0.0.1:${port}`, fingerprint: 'ab'.repeat(32), token: 't' });
    await expect(client.status()).rejects.toThrow(
      `cannot reach the server at https://127.0.0.1:${port}: connection refused; is it running?`,
    );
    client.close();
  });

  it('an unexpected answer shape', async () => {
    const api = await startFakeApi(() => ({ status: 200, body: { hello: 'world' } }));
    const client = new ApiClient({ server: api.url, fingerprint: api.fingerprint, token: 't' });
    try {
      await expect(client.status()).rejects.toThrow(/is not what this CLI expects .*same version/);
    } finally {
      client.close();
      await api.close();
    }
  });

  it('a 403 carries the server sentence; a bare 500 names the request', async () => {
    let status = 403;
    const api = await startFakeApi(() =>
      status === 403 ? { status, body: { error: 'FORBIDDEN', message: 'viewers cannot manage users' } } : { status },
    );
    const client = new ApiClient({ server: api.url, fingerprint: api.fingerprint, token: 't' });
    try {
      await expect(client.listUsers()).rejects.toThrow('viewers cannot manage users');
      status = 500;
      await expect(client.listUsers()).rejects.toThrow('the server answered GET /api/users with HTTP 500');
    } finally {
      client.close();
      await api.close();
    }
  });

  it.each([
    ['ENOTFOUND', /the host name does not resolve; check the address$/],
    ['ETIMEDOUT', /the connection timed out/],
    ['EHOSTUNREACH', /no route to the host/],
    ['ECONNRESET', /is that the vPlus HTTPS port\?$/],
    ['ERR_SSL_WRONG_VERSION_NUMBER', /the TLS handshake failed/],
  ])('%s', (code, message) => {
    const text = describeRequestFailure(Object.assign(new Error('x'), { code }), 'https://h:8181');
    expect(text).toMatch(/^cannot reach the server at https:\/\/h:8181: /);
    expect(text).toMatch(message);
  });
});
