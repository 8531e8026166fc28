import { afterAll, describe, expect, it } from 'vitest';
import { runVplus, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

/** CLI.md: usage errors exit 2, with one sentence on stderr and nothing on stdout. */
describe('argument errors exit 2', () => {
  const usageErrors: [string, string[], RegExp][] = [
    ['no command at all', [], /Usage: vplus/],
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['an unknown option', ['status', '--bogus'], /unknown option '--bogus'/],
    ['a group without its subcommand', ['user'], /Usage: vplus user/],
    ['a missing argument', ['user', 'remove'], /missing required argument 'name'/],
    ['too many arguments', ['user', 'remove', 'a', 'b'], /too many arguments/],
    ['a missing mandatory option', ['user', 'add', 'bob', '--password-stdin'], /required option '--role <role>'/],
    ['a role that does not exist', ['user', 'add', 'bob', '--role', 'god', '--password-stdin'], /Allowed choices are admin, operator, viewer/],
    ['a password given without --password-stdin', ['user', 'add', 'bob', '--role', 'viewer'], /required option '--password-stdin'/],
    ['a port that is not a number', ['server', 'start', '--port', 'abc'], /port must be a number from 0 to 65535/],
    ['a port out of range', ['server', 'start', '--port', '70000'], /port must be a number/],
    ['an unknown log level', ['server', 'start', '--log-level', 'loud'], /Allowed choices are fatal/],
    ['a database URL that is not mariadb://', ['server', 'start', '--db-url', 'mysql://x'], /invalid dbUrl: the database URL must look like mariadb:/],
    ['login without --user', ['login', '--server', 'https://h:8181', '--password-stdin'], /required option '--user <name>'/],
    ['login without a server', ['login', '--user', 'admin', '--password-stdin'], /give the server with --server/],
    ['login to a plain http:// URL', ['login', '--server', 'http://h:8181', '--user', 'a', '--password-stdin'], /must be an https:\/\/ URL/],
    ['login with a malformed fingerprint', ['login', '--server', 'h', '--user', 'a', '--password-stdin', '--fingerprint', 'AB:CD'], /--fingerprint: "AB:CD" is not a SHA-256 fingerprint/],
  ];

  for (const [what, argv, message] of usageErrors) {
    it(`for ${what}`, async () => {
      const run = await runVplus(argv, { stdin: 'secret-password\n' });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    });
  }

  it('rejects an invalid user name before asking for a password', async () => {
    const run = await runVplus(['user', 'add', 'bad/name', '--role', 'viewer', '--password-stdin'], {
      env: { VPLUS_SERVER: 'https://127.0.0.1:1', VPLUS_FINGERPRINT: 'ab'.repeat(32), VPLUS_TOKEN: 't' },
      stdin: 'long-enough-password\n',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: invalid user name: username may contain/);
  });

  it('rejects a malformed VPLUS_FINGERPRINT as a usage error', async () => {
    const run = await runVplus(['status'], { env: { VPLUS_SERVER: 'h', VPLUS_FINGERPRINT: 'nope' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/VPLUS_FINGERPRINT: "nope" is not a SHA-256 fingerprint/);
  });
});

describe('help and version are not errors', () => {
  it('--help exits 0 and prints to stdout', async () => {
    const run = await runVplus(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Usage: vplus/);
    expect(run.stdout).toMatch(/login/);
  });

  it('--version prints the package version', async () => {
    const run = await runVplus(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('help for a subcommand exits 0', async () => {
    const run = await runVplus(['user', 'add', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--role <role>/);
  });
});

describe('operation failures exit 1', () => {
  it('says to log in when there is no session', async () => {
    const run = await runVplus(['user', 'list']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: no server configured; run vplus login --server https://HOST:8181 --user NAME --password-stdin\n');
  });

  it('says to log in when there is a server but no token', async () => {
    const run = await runVplus(['status'], { env: { VPLUS_SERVER: 'h', VPLUS_FINGERPRINT: 'ab'.repeat(32) } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: not logged in or the session expired; run vplus login\n');
  });

  it('logout without a session is not an error', async () => {
    const run = await runVplus(['logout']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Not logged in.\n');
  });
});
