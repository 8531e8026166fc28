import { afterAll, describe, expect, it } from 'vitest';
import { parseHostKeyFingerprint, parseSshTarget, planInstall, sshKeyTypeLabel } from '../../../cli/commands/node.command.js';
import { UsageError } from '../../../cli/errors.js';
import { removeTempDirs, runVplus } from './helpers.js';

afterAll(removeTempDirs);

const FP = `SHA256:${'a'.repeat(43)}`;

describe('USER@HOST[:PORT]', () => {
  it.each([
    ['root@10.0.0.7', { user: 'root', host: '10.0.0.7', port: 22 }],
    ['admin@backup-host:2222', { user: 'admin', host: 'backup-host', port: 2222 }],
    ['me@host.example.com:22', { user: 'me', host: 'host.example.com', port: 22 }],
    ['root@[fe80::1]:2222', { user: 'root', host: 'fe80::1', port: 2222 }],
    ['root@[::1]', { user: 'root', host: '::1', port: 22 }],
    ['root@fe80::1', { user: 'root', host: 'fe80::1', port: 22 }],
    ['first.last@h:65535', { user: 'first.last', host: 'h', port: 65535 }],
  ])('%s', (input, target) => {
    expect(parseSshTarget(input)).toEqual(target);
  });

  it.each([
    ['10.0.0.7', /is not USER@HOST\[:PORT\]; e\.g\. root@10\.0\.0\.7/],
    ['@10.0.0.7', /is not USER@HOST/],
    ['root@', /is not USER@HOST/],
    ['root@host:', /the port must be a number from 1 to 65535/],
    ['root@host:0', /the port must be a number from 1 to 65535/],
    ['root@host:65536', /the port must be a number from 1 to 65535/],
    ['root@host:ssh', /the port must be a number/],
    ['root@[fe80::1]:x', /the port must be a number/],
    ['ro ot@host', /the user name is not valid/],
    ['root@ho st', /the host is not valid/],
    ['root@host/path', /the host is not valid/],
  ])('refuses %s as a usage error', (input, message) => {
    expect(() => parseSshTarget(input)).toThrow(UsageError);
    expect(() => parseSshTarget(input)).toThrow(message);
  });
});

describe('host key fingerprints', () => {
  it('takes OpenSSH form, with the prefix in any case and the padding optional', () => {
    expect(parseHostKeyFingerprint(FP)).toBe(FP);
    expect(parseHostKeyFingerprint(`sha256:${'a'.repeat(43)}=`)).toBe(FP);
    expect(parseHostKeyFingerprint(` ${'a'.repeat(43)} `)).toBe(FP);
  });

  it('refuses anything else', () => {
    for (const bad of ['SHA256:short', 'MD5:aa:bb', 'ab'.repeat(32), `SHA256:${'a'.repeat(42)}!`]) {
      expect(() => parseHostKeyFingerprint(bad)).toThrow(/is not an SSH host key fingerprint; give it as SHA256:… the way ssh-keygen -lf prints it/);
    }
  });

  it('names key types as ssh-keygen -l does', () => {
    expect(sshKeyTypeLabel('ssh-ed25519')).toBe('ED25519');
    expect(sshKeyTypeLabel('ecdsa-sha2-nistp384')).toBe('ECDSA');
    expect(sshKeyTypeLabel('rsa-sha2-512')).toBe('RSA');
    expect(sshKeyTypeLabel('something-new')).toBe('SOMETHING-NEW');
  });
});

describe('planInstall', () => {
  it('plans a local install', () => {
    expect(planInstall({ local: true, name: 'office-1' })).toEqual({ method: 'local', name: 'office-1' });
  });

  it('plans an SSH install with a key and a passphrase', () => {
    expect(planInstall({ ssh: 'root@h:2200', key: '/k', passphraseStdin: true, hostKeyFingerprint: FP, serverAddress: ' 10.0.0.1 ' })).toEqual({
      method: 'ssh',
      target: { user: 'root', host: 'h', port: 2200 },
      auth: { kind: 'key', file: '/k', passphrase: true },
      hostKeyFingerprint: FP,
      serverAddress: '10.0.0.1',
    });
  });
});

/** CLI.md: usage errors exit 2 with one sentence on stderr, before anything is sent. */
describe('node and task usage errors exit 2', () => {
  // A server nothing listens on: a command that got as far as the network would exit 1.
  const env = { VPLUS_SERVER: 'https://127.0.0.1:1', VPLUS_FINGERPRINT: 'ab'.repeat(32), VPLUS_TOKEN: 't' };
  const cases: [string, string[], RegExp][] = [
    ['install without a target', ['node', 'install'], /say where to install: --local for this computer, or --ssh USER@HOST/],
    ['install with both targets', ['node', 'install', '--local', '--ssh', 'root@h'], /--local and --ssh exclude each other/],
    ['a local install with an SSH option', ['node', 'install', '--local', '--password-stdin'], /--password-stdin applies to --ssh only/],
    ['a local install with a host key', ['node', 'install', '--local', '--host-key-fingerprint', FP], /--host-key-fingerprint applies to --ssh only/],
    ['an SSH install without credentials', ['node', 'install', '--ssh', 'root@h'], /say how to sign in to h: --password-stdin, or --key FILE/],
    ['an SSH install with a password and a key', ['node', 'install', '--ssh', 'root@h', '--password-stdin', '--key', '/k'], /--password-stdin and --key exclude each other/],
    ['a passphrase without a key', ['node', 'install', '--ssh', 'root@h', '--password-stdin', '--passphrase-stdin'], /--passphrase-stdin goes with --key FILE/],
    ['a target without a user', ['node', 'install', '--ssh', 'host', '--password-stdin'], /--ssh "host" is not USER@HOST\[:PORT\]/],
    ['a port out of range', ['node', 'install', '--ssh', 'root@host:99999', '--password-stdin'], /the port must be a number from 1 to 65535/],
    ['a malformed host key fingerprint', ['node', 'install', '--ssh', 'root@h', '--password-stdin', '--host-key-fingerprint', 'ab:cd'], /"ab:cd" is not an SSH host key fingerprint/],
    ['an invalid node name', ['node', 'install', '--local', '--name', 'bad name'], /invalid node name "bad name": node names may contain letters, digits/],
    ['a key file that does not exist', ['node', 'install', '--ssh', 'root@h', '--key', '/nonexistent/key', '--host-key-fingerprint', FP], /cannot read the key file \/nonexistent\/key: no such file/],
    ['node show without a node', ['node', 'show'], /missing required argument 'node'/],
    ['node log with too many lines', ['node', 'log', 'n1', '--lines', '5001'], /--lines must be a whole number from 1 to 5000/],
    ['node check with a sample of 0 MiB', ['node', 'check', 'n1', '--sample-mib', '0'], /--sample-mib must be a whole number from 1 to 4096/],
    ['node check with a sample too large', ['node', 'check', 'n1', '--sample-mib', '4097'], /--sample-mib must be a whole number from 1 to 4096/],
    ['a task id that is not a number', ['task', 'show', 'abc'], /a task id is a positive whole number/],
    ['task id 0', ['task', 'wait', '0'], /a task id is a positive whole number/],
    ['task cancel without an id', ['task', 'cancel'], /missing required argument 'id'/],
    ['an unknown task state', ['task', 'list', '--state', 'done'], /there is no task state "done"; use one of QUEUED, RUNNING, FINISHED/],
    ['an unknown task type', ['task', 'list', '--type', 'BACKUP'], /there is no task type "BACKUP"; use one of EXPORT/],
    ['a limit out of range', ['task', 'list', '--limit', '501'], /--limit must be a whole number from 1 to 500/],
    ['a node group without its subcommand', ['node'], /Usage: vplus node/],
    ['a token group without create', ['node', 'token'], /Usage: vplus node token/],
  ];

  for (const [what, argv, message] of cases) {
    it(`for ${what}`, async () => {
      const run = await runVplus(argv, { env, stdin: 'secret\n' });
      expect(run.stderr).toMatch(message);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
    });
  }
});
