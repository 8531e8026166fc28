import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  serverUrl,
  shq,
  startSupervisorScript,
  stopSupervisorScript,
  SUPERVISOR_SCRIPT,
  systemdUnit,
  type SupervisorPaths,
} from '../../../electron/server/nodes/installer/node-layout.js';
import { makeTempDir, waitFor } from '../../support/test-server.js';
import { processesMatching } from './installer-test-kit.js';

const run = promisify(execFile);

describe('node layout helpers', () => {
  it('builds the server URL the node enrols with', () => {
    expect(serverUrl('10.250.1.1', 8181)).toBe('https://10.250.1.1:8181');
    expect(serverUrl('::ffff:192.168.1.5', 8181)).toBe('https://192.168.1.5:8181');
    expect(serverUrl('fe80::1', 443)).toBe('https://[fe80::1]:443');
    expect(serverUrl('backup.example.com', 8181)).toBe('https://backup.example.com:8181');
  });

  it('quotes words for sh so that any text survives', () => {
    const nasty = `it's "quoted" $HOME \`id\` \\ ; rm -rf /`;
    expect(execFileSync('sh', ['-c', `printf %s ${shq(nasty)}`]).toString()).toBe(nasty);
  });

  it('writes a systemd unit that restarts the node and quotes paths with spaces', () => {
    const unit = systemdUnit({
      description: 'vPlus node',
      execStart: ['/opt/vplus node/node', '/opt/vplus node/bin/vplus.js', 'node-service', 'run', '--config', '/etc/vplus-node/node.json'],
      environment: { ELECTRON_RUN_AS_NODE: '1' },
      wantedBy: 'multi-user.target',
    });
    expect(unit).toContain('ExecStart="/opt/vplus node/node" "/opt/vplus node/bin/vplus.js" node-service run --config /etc/vplus-node/node.json\n');
    expect(unit).toContain('Environment=ELECTRON_RUN_AS_NODE=1\n');
    expect(unit).toContain('Restart=always\n');
    expect(unit).toContain('WantedBy=multi-user.target\n');
  });
});

/**
 * The supervisor used on SSH hosts without systemd, run here directly (no
 * SSH): the same start and stop scripts the installer sends, with a stand-in
 * for the node program.
 */
describe('remote supervisor script', () => {
  let dir: string;
  let paths: SupervisorPaths;
  const FAKE_NODE = `#!/bin/sh
# Stand-in for the Node.js binary: "$ROOT/node $ROOT/bin/vplus.js node-service run --config FILE".
root=$(dirname "$0")
echo "fake node $$ started: $*"
mode=$(cat "$root/mode" 2>/dev/null || echo run)
if [ "$mode" = crash ]; then exit 5; fi
if [ "$mode" = stubborn ]; then trap 'echo "ignoring TERM"' TERM; else trap 'echo "got TERM"; exit 0' TERM; fi
echo "fake node $$ ready"
while :; do sleep 0.1; done
`;
  const supervisors = (): number[] => processesMatching('vplus-node-supervisor', dir);
  const nodes = (): number[] => processesMatching(`${dir}/root/node`, 'node-service');
  const sh = async (script: string): Promise<string> => (await run('sh', ['-c', script], { timeout: 60_000 })).stdout.trim();
  const log = (): string => (fs.existsSync(paths.logFile) ? fs.readFileSync(paths.logFile, 'utf8') : '');

  beforeAll(() => {
    dir = makeTempDir('remote-supervisor');
    const root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(root, 'node'), FAKE_NODE, { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'bin/vplus-node-supervisor'), SUPERVISOR_SCRIPT, { mode: 0o755 });
    paths = { root, config: path.join(dir, 'etc', 'node.json'), stateDir: path.join(dir, 'state'), logFile: path.join(dir, 'log', 'node.log') };
  });
  afterEach(async () => {
    await sh(stopSupervisorScript(paths, 1));
    fs.rmSync(path.join(paths.root, 'mode'), { force: true });
  });
  afterAll(() => {
    for (const pid of [...supervisors(), ...nodes()]) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts detached, runs the node once, restarts it when it dies, and stops both', async () => {
    expect(await sh(startSupervisorScript(paths))).toBe('started');
    expect(await sh(startSupervisorScript(paths))).toBe('running');
    expect(supervisors()).toHaveLength(1);
    const [first] = await waitFor('the node', async () => (nodes().length === 1 ? nodes() : undefined));
    expect(Number(fs.readFileSync(path.join(paths.stateDir, 'node.pid'), 'utf8'))).toBe(first);
    expect(log()).toContain(`node-service run --config ${paths.config}`);

    process.kill(first!, 'SIGKILL');
    // Ready, not only started: a TERM before its trap is set would kill it without a word.
    await waitFor('a new node', async () => {
      const [next] = nodes();
      return nodes().length === 1 && next !== first && log().includes(`fake node ${next} ready`);
    });
    expect(log()).toMatch(/supervisor: the node service exited with code 137; restarting it in 1s/);

    expect(await sh(stopSupervisorScript(paths))).toBe('stopped');
    expect(supervisors()).toEqual([]);
    expect(nodes()).toEqual([]);
    expect(log()).toContain('got TERM');
    expect(log()).toContain('supervisor: stopped');
    expect(fs.existsSync(path.join(paths.stateDir, 'supervisor.pid'))).toBe(false);
    expect(await sh(stopSupervisorScript(paths))).toBe('not-running');
  });

  it('backs off while the node keeps crashing, and a stop ends the wait', async () => {
    fs.writeFileSync(path.join(paths.root, 'mode'), 'crash');
    await sh(startSupervisorScript(paths));
    await waitFor('three restarts', async () => (log().match(/exited with code 5/g) ?? []).length >= 3, 20_000);
    expect(log()).toMatch(/restarting it in 1s[\s\S]*restarting it in 2s[\s\S]*restarting it in 4s/);
    const started = Date.now();
    expect(await sh(stopSupervisorScript(paths))).toBe('stopped');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(supervisors()).toEqual([]);
  });

  it('kills a node that ignores SIGTERM once the grace time is over', async () => {
    fs.writeFileSync(path.join(paths.root, 'mode'), 'stubborn');
    await sh(startSupervisorScript(paths));
    await waitFor('the node, its trap set', async () => nodes().length === 1 && / ready\n/.test(log()));
    expect(await sh(stopSupervisorScript(paths, 1))).toBe('forced');
    expect(supervisors()).toEqual([]);
    await waitFor('the node to be gone', async () => nodes().length === 0, 5000);
    expect(log()).toContain('ignoring TERM');
  });
});
