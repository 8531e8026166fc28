import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeServerUrl, parseFingerprint, resolveSession } from '../../../cli/client/session.js';
import { UsageError } from '../../../cli/errors.js';
import { FakeTerminal, SAMPLE_USER, runVplus, startFakeApi, tempDir, type FakeApiServer, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

const HEX = 'a1'.repeat(32);

describe('server URLs', () => {
  it.each([
    ['backup', 'https://backup:8181'],
    ['backup:9000', 'https://backup:9000'],
    ['HTTPS://Backup.Example:8181/ui/', 'https://backup.example:8181'],
    ['https://backup', 'https://backup'],
    ['[::1]:8181', 'https://[::1]:8181'],
    ['  10.0.0.5  ', 'https://10.0.0.5:8181'],
  ])('%s → %s', (input, origin) => {
    expect(normalizeServerUrl(input)).toBe(origin);
  });

  it.each(['http://backup:8181', 'ftp://x', 'https://user:pw@backup:8181', 'https://'])('refuses %s', (input) => {
    expect(() => normalizeServerUrl(input)).toThrow(UsageError);
  });
});

describe('fingerprints are accepted in every spelling', () => {
  const colonUpper = HEX.toUpperCase().match(/.{2}/g)!.join(':');
  it.each([HEX, HEX.toUpperCase(), colonUpper, colonUpper.toLowerCase(), `SHA256:${colonUpper}`, ` ${colonUpper} `])(
    '%s',
    (input) => {
      expect(parseFingerprint(input)).toBe(HEX);
    },
  );

  it('names the option in the error', () => {
    expect(() => parseFingerprint('abc', '--fingerprint')).toThrow(/^--fingerprint: "abc" is not a SHA-256 fingerprint/);
  });
});

describe('resolveSession', () => {
  const stored = { server: 'https://a:8181', fingerprint: HEX, token: 'stored-token', user: 'ann' };

  it('uses the stored session', () => {
    expect(resolveSession(stored, {})).toEqual({ server: 'https://a:8181', fingerprint: HEX, token: 'stored-token', user: 'ann' });
  });

  it('lets VPLUS_TOKEN and VPLUS_FINGERPRINT override the stored ones', () => {
    const s = resolveSession(stored, { VPLUS_TOKEN: 'env-token', VPLUS_FINGERPRINT: 'b2'.repeat(32) });
    expect(s.token).toBe('env-token');
    expect(s.fingerprint).toBe('b2'.repeat(32));
    expect(s.server).toBe('https://a:8181');
  });

  it('never hands the stored pin or token to a different server named by VPLUS_SERVER', () => {
    const s = resolveSession(stored, { VPLUS_SERVER: 'https://evil:8181' });
    expect(s).toEqual({ server: 'https://evil:8181', fingerprint: undefined, token: undefined, user: undefined });
  });

  it('treats VPLUS_SERVER spelled differently but meaning the same server as the same', () => {
    expect(resolveSession(stored, { VPLUS_SERVER: 'a' }).token).toBe('stored-token');
  });
});

describe('vplus login', () => {
  let api: FakeApiServer;
  let configFile: string;
  const env = (): Record<string, string> => ({ VPLUS_CONFIG: configFile });

  beforeEach(async () => {
    configFile = path.join(tempDir('login'), 'vplus', 'cli.json');
    api = await startFakeApi(({ method, url, body }) => {
      if (method === 'POST' && url === '/api/auth/login') {
        const { username, password, issueToken } = JSON.parse(body) as Record<string, unknown>;
        if (username === 'admin' && password === 'right-password' && issueToken === true) {
          return { status: 200, body: { user: SAMPLE_USER, token: 'issued-token', expiresAt: '2030-01-01T00:00:00.000Z' } };
        }
        return { status: 401, body: { error: 'INVALID_CREDENTIALS', message: 'wrong user name or password' } };
      }
      return { status: 404, body: { error: 'NOT_FOUND', message: 'no such route' } };
    });
  });
  afterEach(async () => {
    await api.close();
  });

  it('without --fingerprint and without a terminal, exits 2 showing the fingerprint, and sends nothing', async () => {
    const run = await runVplus(['login', '--server', api.url, '--user', 'admin', '--password-stdin'], {
      env: env(),
      stdin: 'right-password\n',
      terminal: null,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(api.fingerprint);
    expect(run.stderr).toContain('pass it with --fingerprint');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(api.requests).toHaveLength(0);
    expect(fs.existsSync(configFile)).toBe(false);
  });

  it('on a terminal, shows the fingerprint and stops when the user does not trust it', async () => {
    const terminal = new FakeTerminal(['n']);
    const run = await runVplus(['login', '--server', api.url, '--user', 'admin', '--password-stdin'], { env: env(), terminal });
    expect(run.code).toBe(1);
    expect(terminal.said.join('\n')).toContain(api.fingerprint);
    expect(terminal.asked).toEqual(['Trust this certificate? [y/N] ']);
    expect(terminal.closed).toBe(true);
    expect(run.stderr).toMatch(/was not trusted; nothing was saved/);
    expect(api.requests).toHaveLength(0);
    expect(fs.existsSync(configFile)).toBe(false);
  });

  it('an empty answer means no', async () => {
    const run = await runVplus(['login', '--server', api.url, '--user', 'admin', '--password-stdin'], {
      env: env(),
      terminal: new FakeTerminal(['']),
    });
    expect(run.code).toBe(1);
    expect(api.requests).toHaveLength(0);
  });

  it('on a terminal, trusts on "y", asks the password without echo, and stores the session 0600', async () => {
    const terminal = new FakeTerminal(['y', 'right-password']);
    const run = await runVplus(['login', '--server', api.url, '--user', 'admin', '--password-stdin'], { env: env(), terminal });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(terminal.asked[1]).toMatch(/^Password for admin on https:\/\/127\.0\.0\.1:\d+: $/);
    expect(run.stdout).toBe(`Logged in to ${api.url} as admin (admin).\n`);
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ username: 'admin', password: 'right-password', issueToken: true });
    const saved = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, string>;
    expect(saved).toMatchObject({ server: api.url, fingerprint: api.fingerprint, token: 'issued-token', user: 'admin' });
    expect(fs.statSync(configFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(configFile)).mode & 0o777).toBe(0o700);
  });

  it('with --fingerprint in any spelling, does not ask and reads the password from piped stdin', async () => {
    // No terminal: had it wanted to ask anything, it would have exited 2.
    const fp = api.fingerprint.replace(/:/g, '').toLowerCase();
    const run = await runVplus(['login', '--server', api.url, '--user', 'admin', '--password-stdin', '--fingerprint', fp], {
      env: env(),
      stdin: 'right-password\n',
      terminal: null,
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(api.requests[0]!.body)).toMatchObject({ password: 'right-password' });
  });

  it('takes the pin from VPLUS_FINGERPRINT', async () => {
    const run = await runVplus(['login', '--server', api.url, '--user', 'admin', '--password-stdin'], {
      env: { ...env(), VPLUS_FINGERPRINT: api.fingerprint },
      stdin: 'right-password',
    });
    expect(run.code).toBe(0);
  });

  it('with a wrong --fingerprint, fails before sending the password', async () => {
    const run = await runVplus(
      ['login', '--server', api.url, '--user', 'admin', '--password-stdin', '--fingerprint', HEX],
      { env: env(), stdin: 'right-password\n' },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/does not match the pinned/);
    expect(api.requests).toHaveLength(0);
  });

  it('reuses the pin stored for the same server without asking again', async () => {
    await runVplus(['login', '--server', api.url, '--user', 'admin', '--password-stdin', '--fingerprint', api.fingerprint], {
      env: env(),
      stdin: 'right-password',
    });
    const run = await runVplus(['login', '--server', api.url, '--user', 'admin', '--password-stdin'], {
      env: env(),
      stdin: 'right-password',
      terminal: null,
    });
    expect(run.code).toBe(0);
  });

  it('reports wrong credentials with the server sentence and saves nothing', async () => {
    const run = await runVplus(
      ['login', '--server', api.url, '--user', 'admin', '--password-stdin', '--fingerprint', api.fingerprint],
      { env: env(), stdin: 'wrong-password\n' },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: wrong user name or password\n');
    expect(fs.existsSync(configFile)).toBe(false);
  });

  it('refuses an empty password on stdin as a usage error', async () => {
    const run = await runVplus(
      ['login', '--server', api.url, '--user', 'admin', '--password-stdin', '--fingerprint', api.fingerprint],
      { env: env(), stdin: '\n' },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no password on stdin/);
  });
});
