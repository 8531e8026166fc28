import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstallerError, type LocalTarget } from '../../../electron/server/nodes/installer/installer.js';
import { LocalNodeInstaller } from '../../../electron/server/nodes/installer/local-installer.js';
import { NodeSupervisor } from '../../../electron/server/nodes/installer/node-supervisor.js';
import { makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';
import { createEnrollmentToken, processesMatching, recordingContext, REPO_ROOT, requireBuiltProgram, waitForNodeStatus } from './installer-test-kit.js';

/**
 * The local installer in its supervised mode (these machines have no
 * systemd): the real `vplus node-service enroll|run`, a real server.
 */
describe('local node installer (supervised)', () => {
  let server: TestServer;
  let admin: string;
  let nodesDir: string;
  let supervisor: NodeSupervisor;
  let installer: LocalNodeInstaller;
  const logger = pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' });
  const target: LocalTarget = { kind: 'local', name: 'this-computer' };
  const nodeProcesses = (): number[] => processesMatching(path.join(REPO_ROOT, 'bin/vplus.js'), 'node-service', 'run', nodesDir);

  beforeAll(async () => {
    requireBuiltProgram();
    server = await startTestServer();
    admin = await setupAdmin(server.api);
    nodesDir = makeTempDir('local-nodes');
    supervisor = new NodeSupervisor({ cliEntry: path.join(REPO_ROOT, 'bin/vplus.js'), logger });
    installer = new LocalNodeInstaller({ appRoot: REPO_ROOT, nodesDir, supervisor, logger, useSystemd: false });
  });
  afterAll(async () => {
    await supervisor?.stopAll();
    await server?.destroy();
    if (nodesDir) fs.rmSync(nodesDir, { recursive: true, force: true });
  });

  it('a bad enrollment token fails with the server\'s reason and leaves nothing behind', async () => {
    const { fingerprint } = await createEnrollmentToken(server.api, admin);
    const err = (await installer
      .install({ kind: 'local', name: 'bad-token' }, { token: 'vpe_' + 'y'.repeat(32), fingerprint, port: server.server.port }, recordingContext())
      .catch((e: unknown) => e)) as InstallerError;
    expect(err).toBeInstanceOf(InstallerError);
    expect(err.code).toBe('ENROLL_FAILED');
    expect(err.message).toMatch(/^enrolling the node with the server at https:\/\/127\.0\.0\.1:\d+ failed: .*the enrollment token is not valid/);
    expect(fs.existsSync(path.join(nodesDir, 'bad-token'))).toBe(false);
    expect(supervisor.isSupervised('bad-token')).toBe(false);
  });

  it('installs: enrols at https://127.0.0.1:PORT, the server supervises the node, it comes online', async () => {
    const { token, fingerprint } = await createEnrollmentToken(server.api, admin);
    const ctx = recordingContext();
    const outcome = await installer.install(target, { token, fingerprint, port: server.server.port }, ctx);
    expect(outcome).toEqual({ host: os.hostname(), method: 'local-supervised' });

    const p = installer.pathsFor(target.name);
    expect(fs.statSync(p.configFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(p.dir).mode & 0o777).toBe(0o700);
    const config = JSON.parse(fs.readFileSync(p.configFile, 'utf8')) as { serverUrl: string; stagingDir: string };
    expect(config.serverUrl).toBe(`https://127.0.0.1:${server.server.port}`);
    expect(config.stagingDir).toBe(p.stagingDir);
    expect(ctx.text()).not.toContain(token);

    await waitForNodeStatus(server.api, admin, target.name, 'online', 60_000);
    expect(supervisor.status(target.name)).toMatchObject({ running: true });
    expect(nodeProcesses()).toHaveLength(1);
    const log = await installer.showLog(target, 100);
    expect(log.join('\n')).toContain('supervisor: starting the node service');
  });

  it('a reinstall that fails leaves the installed node running with its previous configuration', async () => {
    const p = installer.pathsFor(target.name);
    const configBefore = fs.readFileSync(p.configFile, 'utf8');
    const { fingerprint } = await createEnrollmentToken(server.api, admin);
    const ctx = recordingContext();
    const err = (await installer
      .install(target, { token: 'vpe_' + 'z'.repeat(32), fingerprint, port: server.server.port }, ctx)
      .catch((e: unknown) => e)) as InstallerError;
    expect(err.code).toBe('ENROLL_FAILED');
    expect(ctx.text()).toMatch(/starting the node that was installed before again/);
    expect(fs.readFileSync(p.configFile, 'utf8')).toBe(configBefore);
    await waitFor('the node process', async () => nodeProcesses().length === 1);
    await waitForNodeStatus(server.api, admin, target.name, 'online', 60_000);
  });

  it('restarts and upgrades (a restart on the new program files): a new process, back online', async () => {
    const [first] = nodeProcesses();
    await installer.restart(target, recordingContext());
    const [second] = await waitFor('a new node process', async () => {
      const now = nodeProcesses();
      return now.length === 1 && now[0] !== first ? now : undefined;
    });
    await waitForNodeStatus(server.api, admin, target.name, 'online', 60_000);
    const ctx = recordingContext();
    await installer.upgrade(target, ctx);
    await waitFor('another new node process', async () => {
      const now = nodeProcesses();
      return now.length === 1 && now[0] !== second ? now : undefined;
    });
    await waitForNodeStatus(server.api, admin, target.name, 'online', 60_000);
  });

  it('a server restart re-attaches the running node instead of starting a second one', async () => {
    const [pid] = nodeProcesses();
    // The old server's supervisor "dies" (we just stop using it); a new one takes over.
    const next = new NodeSupervisor({ cliEntry: path.join(REPO_ROOT, 'bin/vplus.js'), logger });
    const again = new LocalNodeInstaller({ appRoot: REPO_ROOT, nodesDir, supervisor: next, logger, useSystemd: false });
    again.reattach([target.name]);
    expect(next.status(target.name)).toMatchObject({ running: true, pid, adopted: true });
    expect(nodeProcesses()).toEqual([pid]);
    // Hand the node back to the first supervisor for the rest of the suite.
    await next.stopAll();
    await supervisor.restart(installer.supervisedNode(target.name));
    await waitForNodeStatus(server.api, admin, target.name, 'online', 60_000);
  });

  it('uninstalls: the node stops and its directory (config, staging, log) is removed', async () => {
    const ctx = recordingContext();
    await installer.uninstall(target, ctx);
    expect(nodeProcesses()).toEqual([]);
    expect(supervisor.isSupervised(target.name)).toBe(false);
    expect(fs.existsSync(installer.pathsFor(target.name).dir)).toBe(false);
    await waitForNodeStatus(server.api, admin, target.name, 'offline', 90_000);
    const err = (await installer.restart(target, recordingContext()).catch((e: unknown) => e)) as InstallerError;
    expect(err.code).toBe('NOT_INSTALLED');
  });
});
