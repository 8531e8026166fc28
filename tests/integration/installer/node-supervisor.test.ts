import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeSupervisor, type SupervisedNode } from '../../../electron/server/nodes/installer/node-supervisor.js';
import { makeTempDir, waitFor } from '../../support/test-server.js';
import { processesMatching } from './installer-test-kit.js';

/**
 * The supervisor with a stand-in node program (real processes, real signals):
 * what it does is read from "<config>.mode" at each start, so a test can make
 * it crash, run, or ignore SIGTERM.
 */
const FAKE_NODE = `
import fs from 'node:fs';
const config = process.argv[process.argv.indexOf('--config') + 1];
const mode = fs.existsSync(config + '.mode') ? fs.readFileSync(config + '.mode', 'utf8').trim() : 'run';
fs.appendFileSync(config + '.starts', Date.now() + '\\n');
if (mode === 'crash') setTimeout(() => process.exit(3), 50);
else {
  process.on('SIGTERM', () => {
    console.log('fake node got SIGTERM');
    if (mode !== 'stubborn') process.exit(0);
  });
  setInterval(() => undefined, 1000);
}
console.log('fake node ' + process.pid + ' started in mode ' + mode);
`;

describe('node supervisor', () => {
  let dir: string;
  let script: string;
  const supervisors: NodeSupervisor[] = [];
  const logger = pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' });
  let n = 0;

  const makeNode = (mode: 'run' | 'crash' | 'stubborn' = 'run'): SupervisedNode => {
    const nodeDir = path.join(dir, `node${++n}`);
    fs.mkdirSync(nodeDir);
    const node = { name: `node${n}`, configFile: path.join(nodeDir, 'node.json'), logFile: path.join(nodeDir, 'node.log'), pidFile: path.join(nodeDir, 'node.pid') };
    fs.writeFileSync(`${node.configFile}.mode`, mode);
    return node;
  };
  const makeSupervisor = (opts: { stopTimeoutMs?: number; backoff?: { initialMs: number; maxMs: number; resetAfterMs: number } } = {}): NodeSupervisor => {
    const s = new NodeSupervisor({
      cliEntry: '/nonexistent/bin/vplus.js',
      logger,
      command: (node) => ({ file: process.execPath, args: [script, '--config', node.configFile] }),
      ...opts,
    });
    supervisors.push(s);
    return s;
  };
  const running = (node: SupervisedNode): number[] => processesMatching(script, node.configFile);
  const starts = (node: SupervisedNode): number[] =>
    fs.existsSync(`${node.configFile}.starts`) ? fs.readFileSync(`${node.configFile}.starts`, 'utf8').split('\n').filter(Boolean).map(Number) : [];

  beforeAll(() => {
    dir = makeTempDir('supervisor');
    script = path.join(dir, 'fake-node.mjs');
    fs.writeFileSync(script, FAKE_NODE);
  });
  afterEach(async () => {
    for (const s of supervisors.splice(0)) await s.stopAll();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the node with its output in the log file and restarts it when it is killed', async () => {
    const s = makeSupervisor();
    const node = makeNode('run');
    s.start(node);
    const [pid] = await waitFor('the node to start', async () => (running(node).length === 1 ? running(node) : undefined));
    expect(Number(fs.readFileSync(node.pidFile, 'utf8'))).toBe(pid);
    expect(s.status(node.name)).toMatchObject({ running: true, pid, restarts: 0 });
    await waitFor('its output in the log', async () => fs.readFileSync(node.logFile, 'utf8').includes(`fake node ${pid} started`));
    expect(fs.statSync(node.logFile).mode & 0o777).toBe(0o600);

    process.kill(pid!, 'SIGKILL');
    const [next] = await waitFor('a new node process', async () => {
      const now = running(node);
      return now.length === 1 && now[0] !== pid ? now : undefined;
    });
    expect(s.status(node.name)).toMatchObject({ running: true, pid: next, restarts: 1, lastExit: { signal: 'SIGKILL' } });
    expect(fs.readFileSync(node.logFile, 'utf8')).toMatch(/supervisor: the node service exited \(SIGKILL\); restarting it in 1 s/);
  });

  it('backs off between restarts of a node that keeps crashing', async () => {
    const s = makeSupervisor({ backoff: { initialMs: 200, maxMs: 800, resetAfterMs: 60_000 } });
    const node = makeNode('crash');
    s.start(node);
    await waitFor('five starts', async () => starts(node).length >= 5, 20_000);
    const t = starts(node);
    const gaps = t.slice(1).map((v, i) => v - t[i]!);
    // Each gap is the process's ~50 ms life plus the backoff: 200, 400, 800, 800 ms.
    expect(gaps[0]).toBeGreaterThanOrEqual(200);
    expect(gaps[1]).toBeGreaterThanOrEqual(400);
    expect(gaps[2]).toBeGreaterThanOrEqual(800);
    expect(gaps[3]).toBeGreaterThanOrEqual(800);
    expect(gaps[3]).toBeLessThan(2500);
    expect(s.status(node.name)!.lastExit).toMatchObject({ code: 3 });
  });

  it('stops a node with SIGTERM, and with SIGKILL when it ignores SIGTERM', async () => {
    const s = makeSupervisor({ stopTimeoutMs: 700 });
    const polite = makeNode('run');
    const stubborn = makeNode('stubborn');
    s.startAll([polite, stubborn]);
    // Ready once they say so (their SIGTERM handlers are in place by then).
    const ready = (node: SupervisedNode): boolean => fs.readFileSync(node.logFile, 'utf8').includes('started in mode');
    await waitFor('both nodes', async () => ready(polite) && ready(stubborn));

    await s.stop(polite.name);
    expect(running(polite)).toEqual([]);
    expect(fs.readFileSync(polite.logFile, 'utf8')).toContain('fake node got SIGTERM');
    expect(fs.existsSync(polite.pidFile)).toBe(false);
    expect(s.isSupervised(polite.name)).toBe(false);

    const started = Date.now();
    await s.stop(stubborn.name);
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(running(stubborn)).toEqual([]);
    expect(fs.readFileSync(stubborn.logFile, 'utf8')).toContain('fake node got SIGTERM');
    // Stopped on purpose: not restarted. A node that dies afterwards is restarted after the
    // same backoff; once it is, a restart of the stopped two would have come before it.
    const control = makeNode('run');
    s.start(control);
    const [doomed] = await waitFor('the control node', async () => (ready(control) && running(control).length === 1 ? running(control) : undefined));
    process.kill(doomed!, 'SIGKILL');
    await waitFor('the control node restarted', async () => (s.status(control.name)?.restarts === 1 && running(control).length === 1 ? true : undefined));
    expect(running(polite)).toEqual([]);
    expect(running(stubborn)).toEqual([]);
    expect(starts(polite)).toHaveLength(1);
    expect(starts(stubborn)).toHaveLength(1);
  });

  it('re-attaches at server start: takes over a node left running, then restarts it when it dies', async () => {
    const node = makeNode('run');
    // A node started by a previous server that died without stopping it.
    const leftover = spawn(process.execPath, [script, '--config', node.configFile], { detached: true, stdio: 'ignore' });
    leftover.unref();
    fs.writeFileSync(node.pidFile, `${leftover.pid}\n`);
    await waitFor('the leftover node', async () => running(node).length === 1);

    const s = makeSupervisor();
    s.startAll([node]);
    // start() takes over or spawns before it returns: a second process would be there already.
    expect(s.status(node.name)).toMatchObject({ running: true, pid: leftover.pid, adopted: true });
    expect(running(node)).toEqual([leftover.pid]); // not started twice

    process.kill(leftover.pid!, 'SIGKILL');
    const [next] = await waitFor('a new node process', async () => {
      const now = running(node);
      return now.length === 1 && now[0] !== leftover.pid ? now : undefined;
    });
    expect(s.status(node.name)).toMatchObject({ running: true, pid: next, adopted: false });
    expect(fs.readFileSync(node.logFile, 'utf8')).toMatch(/took over the running node/);
  });

  it('a stale pid file (a recycled pid) is not taken for the node', async () => {
    const node = makeNode('run');
    fs.writeFileSync(node.pidFile, `${process.pid}\n`); // alive, but not this node
    const s = makeSupervisor();
    s.start(node);
    expect(s.status(node.name)?.adopted).toBe(false);
    await waitFor('the node', async () => running(node).length === 1);
  });

  it('stopAll stops every node at server shutdown, and a leftover can be stopped without supervising it', async () => {
    const s = makeSupervisor();
    const a = makeNode('run');
    const b = makeNode('run');
    s.startAll([a, b]);
    await waitFor('both nodes', async () => running(a).length === 1 && running(b).length === 1);
    await s.stopAll();
    expect(running(a)).toEqual([]);
    expect(running(b)).toEqual([]);
    expect(() => s.start(a)).toThrow(/shut down/);

    const c = makeNode('run');
    const leftover = spawn(process.execPath, [script, '--config', c.configFile], { detached: true, stdio: 'ignore' });
    leftover.unref();
    fs.writeFileSync(c.pidFile, `${leftover.pid}\n`);
    await waitFor('the leftover node', async () => running(c).length === 1);
    await makeSupervisor().stop(c.name, c);
    expect(running(c)).toEqual([]);
  });
});
