import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstallerError, type SshTarget } from '../../../electron/server/nodes/installer/installer.js';
import { NodeBundle } from '../../../electron/server/nodes/installer/node-bundle.js';
import { REMOTE } from '../../../electron/server/nodes/installer/node-layout.js';
import { probeHostKey, SshNodeInstaller } from '../../../electron/server/nodes/installer/ssh-installer.js';
import { startNetnsSshHost, type NetnsSshHost } from '../../support/netns-ssh-host.js';
import { makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';
import {
  claimRemotePaths,
  createEnrollmentToken,
  listNodes,
  processesMatching,
  recordingContext,
  REMOTE_PATHS,
  releaseRemotePaths,
  REPO_ROOT,
  requireBuiltProgram,
  waitForNodeStatus,
} from './installer-test-kit.js';

/**
 * The SSH installer against a real remote host: a network namespace with its
 * own sshd. The namespace shares this machine's filesystem, so the "remote"
 * /opt/vplus-node is this machine's; the tests run in order and clean it up.
 */
const nodeProcesses = (): number[] => processesMatching(`${REMOTE.installDir}/bin/vplus.js`, 'node-service', 'run');

describe('SSH node installer', () => {
  let host: NetnsSshHost;
  let cacheDir: string;
  let installer: SshNodeInstaller;
  const logger = pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' });

  const target = (over: Partial<SshTarget> = {}): SshTarget => ({
    kind: 'ssh',
    name: 'netns-node',
    host: host.address,
    port: host.port,
    user: 'root',
    auth: { privateKey: host.privateKey },
    hostKeyFingerprint: host.hostKeyFingerprint,
    ...over,
  });
  /** Where the previous test's sshd log ended: each test looks at its own lines only. */
  let logMark = 0;
  const newSshdLog = (): string => {
    const all = host.readSshdLog();
    const fresh = all.slice(logMark);
    logMark = all.length;
    return fresh;
  };
  /** newSshdLog() once sshd has logged the end of the connection: it logs nothing more about that one. */
  const sshdLogOfEndedConnection = (): Promise<string> =>
    waitFor(
      'sshd to log the end of the connection',
      async () => {
        const fresh = host.readSshdLog().slice(logMark);
        return /Connection closed by|Disconnected from|Connection reset by/.test(fresh) ? newSshdLog() : undefined;
      },
      10_000,
    );

  beforeAll(async () => {
    requireBuiltProgram();
    // Starting the host also ends processes a crashed earlier run left in its namespace.
    host = await startNetnsSshHost();
    claimRemotePaths();
    cacheDir = makeTempDir('ssh-bundle');
    installer = new SshNodeInstaller({ bundle: new NodeBundle({ appRoot: REPO_ROOT, cacheDir, logger }), logger });
  });

  afterAll(async () => {
    // Kills whatever the install started in the namespace (supervisor, node) before the files go.
    await host?.destroy();
    releaseRemotePaths();
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it('probeHostKey reports the fingerprint ssh-keygen -lf prints, without signing in', async () => {
    newSshdLog();
    const probed = await probeHostKey(host.address, host.port);
    expect(probed).toEqual({ hostKeyFingerprint: host.hostKeyFingerprint, keyType: 'ssh-ed25519' });
    expect(await sshdLogOfEndedConnection()).not.toMatch(/Accepted|Failed|Postponed|Starting session/);
  });

  it('refuses a host whose key does not match, before authenticating or sending anything', async () => {
    newSshdLog();
    const wrong = 'SHA256:' + Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '');
    const ctx = recordingContext();
    const err = (await installer
      .install(target({ hostKeyFingerprint: wrong }), { token: 'x'.repeat(32), fingerprint: 'a'.repeat(64), port: 8181 }, ctx)
      .catch((e: unknown) => e)) as InstallerError;
    expect(err).toBeInstanceOf(InstallerError);
    expect(err.code).toBe('HOST_KEY_MISMATCH');
    expect(err.message).toBe(`the SSH host key of ${host.address} is ${host.hostKeyFingerprint}, not the expected ${wrong}; nothing was sent`);
    // Nothing uploaded, nothing installed.
    expect(ctx.progressCalls).toEqual([]);
    for (const p of REMOTE_PATHS) expect(fs.existsSync(p), p).toBe(false);
    // sshd never saw an authentication attempt, let alone a session.
    const log = await sshdLogOfEndedConnection();
    expect(log).toMatch(/Connection from/);
    expect(log).not.toMatch(/Accepted|Failed|Postponed|Starting session/);
  });

  it('a wrong password fails with a clear message and leaves nothing behind', async () => {
    newSshdLog();
    const ctx = recordingContext();
    const err = (await installer
      .install(target({ auth: { password: 'not-the-password-1' } }), { token: 'x'.repeat(32), fingerprint: 'a'.repeat(64), port: 8181 }, ctx)
      .catch((e: unknown) => e)) as InstallerError;
    expect(err).toBeInstanceOf(InstallerError);
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toBe(`SSH authentication as root@${host.address} failed: wrong password or key`);
    expect(ctx.text()).not.toContain('not-the-password-1');
    expect(ctx.progressCalls).toEqual([]);
    for (const p of REMOTE_PATHS) expect(fs.existsSync(p), p).toBe(false);
    const log = await sshdLogOfEndedConnection();
    expect(log).toMatch(/Failed password for root/);
    expect(log).not.toMatch(/Accepted|Starting session/);
  });

  it('a key that is not authorized fails the same way', async () => {
    // Made by ssh-keygen, as an admin's key is (ssh2's own generator now and then writes an
    // ed25519 key its parser then refuses as malformed, which is another error).
    const keyFile = path.join(makeTempDir('other-key'), 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'not-authorized', '-f', keyFile]);
    const other = fs.readFileSync(keyFile, 'utf8');
    const err = (await installer.restart(target({ auth: { privateKey: other } }), recordingContext()).catch((e: unknown) => e)) as InstallerError;
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toBe(`SSH authentication as root@${host.address} failed: wrong password or key`);
  });

  it('a user who is not root needs passwordless sudo, and is told so', async () => {
    const user = await host.addUser();
    newSshdLog();
    const err = (await installer
      .install(target({ user }), { token: 'x'.repeat(32), fingerprint: 'a'.repeat(64), port: 8181 }, recordingContext())
      .catch((e: unknown) => e)) as InstallerError;
    expect(err).toBeInstanceOf(InstallerError);
    expect(err.code).toBe('SUDO_PASSWORD_REQUIRED');
    // Which one depends on whether this machine has sudo.
    expect(err.message).toMatch(new RegExp(`^${user} on ${host.address.replace(/\./g, '\\.')} is not root and (sudo is not installed|sudo asks for a password)`));
    expect(newSshdLog()).toMatch(new RegExp(`Accepted publickey for ${user}`));
    for (const p of REMOTE_PATHS) expect(fs.existsSync(p), p).toBe(false);
  });

  it('restart, upgrade and showLog say clearly when no node is installed', async () => {
    const attempts = [
      () => installer.restart(target(), recordingContext()),
      () => installer.upgrade(target(), recordingContext()),
      () => installer.showLog(target(), 10),
    ];
    for (const attempt of attempts) {
      const err = (await attempt().catch((e: unknown) => e)) as InstallerError;
      expect(err.code).toBe('NOT_INSTALLED');
      expect(err.message).toMatch(/no vPlus node is installed on .* \(\/opt\/vplus-node is missing\)/);
    }
    for (const p of REMOTE_PATHS) expect(fs.existsSync(p), p).toBe(false);
  });

  it('a failed enrollment surfaces the node command\'s message and leaves nothing behind', async () => {
    // Nothing listens on this port on our side of the veth pair: enrollment cannot reach a server.
    const ctx = recordingContext();
    const err = (await installer
      .install(target(), { token: 'vpe_' + 'x'.repeat(32), fingerprint: 'a'.repeat(64), port: 9 }, ctx)
      .catch((e: unknown) => e)) as InstallerError;
    expect(err).toBeInstanceOf(InstallerError);
    expect(err.code).toBe('ENROLL_FAILED');
    expect(err.message).toContain(`enrolling the node with the server at https://${host.hostAddressOnOurSide}:9 failed: `);
    // The node command's own message, not a generic one.
    expect(err.message).toMatch(/cannot reach the server|ECONNREFUSED/);
    // The upload happened (with progress) before enrollment failed ...
    expect(ctx.progressCalls.length).toBeGreaterThan(1);
    expect(ctx.progressCalls.at(-1)?.done).toBe(ctx.progressCalls.at(-1)?.total);
    // ... and a first install that fails is rolled back.
    for (const p of REMOTE_PATHS) expect(fs.existsSync(p), p).toBe(false);
    expect(ctx.text()).toMatch(/removing what it put on the host/);
  });

  it('cancelling during the upload closes the connection; uninstall then removes what was sent', async () => {
    const ac = new AbortController();
    const ctx = recordingContext(ac.signal, (done) => {
      if (done > 0) ac.abort();
    });
    const err = (await installer
      .install(target(), { token: 'x'.repeat(32), fingerprint: 'a'.repeat(64), port: 8181 }, ctx)
      .catch((e: unknown) => e)) as InstallerError;
    expect(err).toBeInstanceOf(InstallerError);
    expect(err.code).toBe('CANCELLED');
    const last = ctx.progressCalls.at(-1)!;
    expect(last.done).toBeLessThan(last.total!);
    expect(fs.existsSync(REMOTE.installDir)).toBe(false);
    expect(ctx.text()).toMatch(/Cancelled; the connection is closed/);

    await installer.uninstall(target(), recordingContext());
    for (const p of REMOTE_PATHS) expect(fs.existsSync(p), p).toBe(false);
  });

  describe('with a server to enrol with', () => {
    let server: TestServer;
    let admin: string;

    beforeAll(async () => {
      server = await startTestServer({ bind: '0.0.0.0' });
      admin = await setupAdmin(server.api);
    });
    afterAll(async () => {
      await host?.destroy();
      await server?.destroy();
    });

    it('installs over SSH with key auth: uploads, enrols, starts the supervised node, which comes online', async () => {
      const { token, fingerprint } = await createEnrollmentToken(server.api, admin);
      const ctx = recordingContext();
      const outcome = await installer.install(target(), { token, fingerprint, port: server.server.port }, ctx);
      expect(outcome.method).toBe('ssh-supervised'); // no systemd on these machines
      expect(outcome.host.length).toBeGreaterThan(0);

      // Installed where it should be, enrolled against our side of the SSH connection.
      expect(fs.existsSync(`${REMOTE.installDir}/node`)).toBe(true);
      expect(fs.existsSync(REMOTE.newDir)).toBe(false);
      expect(fs.existsSync(REMOTE.oldDir)).toBe(false);
      expect(fs.statSync(REMOTE.configFile).mode & 0o777).toBe(0o600);
      const config = JSON.parse(fs.readFileSync(REMOTE.configFile, 'utf8')) as { serverUrl: string; name: string };
      expect(config.serverUrl).toBe(`https://${host.hostAddressOnOurSide}:${server.server.port}`);
      expect(config.name).toBe('netns-node');
      expect(ctx.text()).toContain(`Enrolling the node with the server at https://${host.hostAddressOnOurSide}:${server.server.port}`);
      expect(ctx.text()).not.toContain(token);
      expect(ctx.progressCalls.at(-1)).toMatchObject({ done: ctx.progressCalls.at(-1)?.total });

      // The supervisor outlives the SSH session and runs the node.
      expect(processesMatching('vplus-node-supervisor')).toHaveLength(1);
      const online = await waitForNodeStatus(server.api, admin, 'netns-node', 'online', 60_000);
      expect(online.host.length).toBeGreaterThan(0);

      const log = await installer.showLog(target(), 50);
      expect(log.join('\n')).toContain('supervisor: starting the node service');
    });

    it('restarts the node: it stops, starts again and comes back online', async () => {
      const before = nodeProcesses();
      expect(before).toHaveLength(1);
      await installer.restart(target(), recordingContext());
      expect(processesMatching('vplus-node-supervisor')).toHaveLength(1);
      const after = await waitFor('a new node process', async () => {
        const now = nodeProcesses();
        return now.length === 1 && now[0] !== before[0] ? now : undefined;
      });
      expect(after).toHaveLength(1);
      await waitForNodeStatus(server.api, admin, 'netns-node', 'online', 60_000);
    });

    it('the supervisor restarts a node that dies', async () => {
      const [pid] = nodeProcesses();
      expect(pid).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      const replaced = await waitFor('the supervisor to start the node again', async () => {
        const now = nodeProcesses();
        return now.length === 1 && now[0] !== pid ? now : undefined;
      });
      expect(replaced).toHaveLength(1);
      await waitForNodeStatus(server.api, admin, 'netns-node', 'online', 60_000);
      expect(await installer.showLog(target(), 20)).toEqual(expect.arrayContaining([expect.stringMatching(/the node service exited with code 137; restarting it in 1s/)]));
    });

    it('upgrades in place: new program files, same credential, back online', async () => {
      const configBefore = fs.readFileSync(REMOTE.configFile, 'utf8');
      const marker = `${REMOTE.installDir}/left-by-old-version`;
      fs.writeFileSync(marker, 'x');
      const ctx = recordingContext();
      await installer.upgrade(target(), ctx);
      expect(fs.existsSync(marker)).toBe(false); // the directory was replaced
      expect(fs.existsSync(REMOTE.oldDir)).toBe(false);
      expect(fs.readFileSync(REMOTE.configFile, 'utf8')).toBe(configBefore);
      expect(processesMatching('vplus-node-supervisor')).toHaveLength(1);
      await waitForNodeStatus(server.api, admin, 'netns-node', 'online', 60_000);
    });

    it('uninstalls: stops the supervisor and node, removes program, configuration, state and logs', async () => {
      const ctx = recordingContext();
      await installer.uninstall(target(), ctx);
      expect(processesMatching('vplus-node-supervisor')).toEqual([]);
      expect(processesMatching(`${REMOTE.installDir}/bin/vplus.js`)).toEqual([]);
      for (const p of REMOTE_PATHS) expect(fs.existsSync(p), p).toBe(false);
      expect(ctx.text()).toMatch(/\/var\/log\/vplus-node \(logs\)/);
      await waitForNodeStatus(server.api, admin, 'netns-node', 'offline', 60_000);
      expect((await listNodes(server.api, admin)).find((n) => n.name === 'netns-node')).toBeDefined();
    });
  });
});
