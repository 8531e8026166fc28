import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../common/fingerprint.js';
import type { Node, Task, TaskDetails } from '../../../common/api/index.js';
import { nodeCheckHandler } from '../../../node-service/agent/handlers/node-check.handler.js';
import { vplus, vplusOk, type Proc } from '../../support/processes.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/**
 * The built `vplus` against a real server (managed MariaDB) and a real node
 * agent: the node and task commands end to end, including --wait over the
 * events WebSocket and Ctrl-C while waiting. Run `npm run build:ts` first.
 */
describe('vplus node / task against a real server', () => {
  let t: TestServer;
  let node: TestNode;
  let admin: string;
  let dir: string;
  let env: Record<string, string>;
  const procs: Proc[] = [];

  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    dir = makeTempDir('cli-nodes');
    node = await enrollTestNode(t.api, admin, { name: 'n1', handlers: [nodeCheckHandler], serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    // A session as `vplus login` leaves it, in a config of this test's own.
    const config = path.join(dir, 'cli.json');
    fs.writeFileSync(config, JSON.stringify({ server: t.server.url, fingerprint: t.server.fingerprint, token: admin, user: 'admin' }), { mode: 0o600 });
    env = { VPLUS_CONFIG: config, VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
  });

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await node?.stop();
    await t?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('node token create prints a command line that enrolls a node as printed', async () => {
    const created = JSON.parse(await vplusOk(['node', 'token', 'create', '--json'], env)) as {
      token: string;
      expiresAt: string;
      fingerprint: string;
      server: string;
      enrollCommand: string;
    };
    expect(created.server).toBe(t.server.url);
    expect(created.fingerprint).toBe(formatFingerprint(t.server.fingerprint));
    expect(new Date(created.expiresAt).getTime()).toBeGreaterThan(Date.now());

    const words = created.enrollCommand.split(' ');
    expect(words.slice(0, 3)).toEqual(['vplus', 'node-service', 'enroll']);
    const nodeConfig = path.join(dir, 'manual.json');
    const enrolled = await vplusOk([...words.slice(1), '--config', nodeConfig, '--name', 'manual-1']);
    expect(enrolled).toMatch(/Enrolled as node "manual-1"/);

    const text = await vplusOk(['node', 'token', 'create'], env);
    expect(text).toMatch(/^Token: +\S{16,}$/m);
    expect(text).toContain(`vplus node-service enroll --server ${t.server.url} --token `);
  });

  it('node list --json shows the enrolled nodes with their capabilities', async () => {
    const nodes = JSON.parse(await vplusOk(['node', 'list', '--json'], env)) as Node[];
    const n1 = nodes.find((n) => n.name === 'n1');
    expect(n1).toMatchObject({ status: 'online', version: 'test' });
    expect(n1!.capabilities?.taskTypes).toContain('NODE_CHECK');
    expect(nodes.map((n) => n.name)).toContain('manual-1');
    const table = await vplusOk(['node', 'list'], env);
    expect(table).toMatch(/^\d+\s+n1\s+\S+\s+online\s+test\s/m);
  });

  it('node check --wait follows the task to its end over the events WebSocket, with its log', async () => {
    const started = Date.now();
    // VPLUS_DEBUG says when the CLI falls back to polling; it must not have to.
    const out = await vplusOk(['node', 'check', 'n1', '--sample-mib', '16', '--wait'], { ...env, VPLUS_DEBUG: '1' });
    expect(out).not.toMatch(/no event stream|the event stream closed/);
    const id = Number(/Checking node n1: task (\d+)\./.exec(out)?.[1]);
    expect(id).toBeGreaterThan(0);
    expect(out).toMatch(new RegExp(`Task ${id} \\(NODE_CHECK node:n1\\) is (queued|running on node n1)\\.`));
    expect(out).toMatch(/ INFO {2}staging .*GiB free of .*GiB/);
    expect(out).toMatch(/ INFO {2}wrote 16 MiB in /);
    expect(out).toMatch(new RegExp(`Task ${id} \\(NODE_CHECK node:n1\\) finished`));
    // Each log line once, although it reaches the CLI both live and in the final read.
    expect(out.match(/wrote 16 MiB in /g)).toHaveLength(1);
    // Live events, not a poll loop nor a hanging socket: done well within a few seconds.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('task list --json shows the check; task show prints its log', async () => {
    const tasks = JSON.parse(await vplusOk(['task', 'list', '--json', '--type', 'NODE_CHECK', '--node', 'n1'], env)) as Task[];
    expect(tasks.length).toBeGreaterThan(0);
    const check = tasks[0]!;
    expect(check).toMatchObject({ type: 'NODE_CHECK', node: 'n1' });
    expect(['FINISHED', 'FINISHED_WITH_WARNINGS']).toContain(check.state);
    const shown = JSON.parse(await vplusOk(['task', 'show', String(check.id), '--json'], env)) as TaskDetails;
    expect(shown.log.some((l) => /wrote 16 MiB/.test(l.message))).toBe(true);
    expect(await vplusOk(['task', 'show', String(check.id)], env)).toMatch(/^Log:\n.* INFO {2}staging /m);
  });

  it('Ctrl-C stops waiting but not the task; task cancel ends it and task wait then exits 1', async () => {
    const waiting = vplus(['node', 'check', 'n1', '--sample-mib', '4096', '--wait'], env);
    procs.push(waiting);
    waiting.child.stdin!.end();
    const id = await waitFor('the check to be writing', async () => {
      const m = /Checking node n1: task (\d+)\./.exec(waiting.output());
      return m && /task \d+: \d+%/.test(waiting.output()) ? Number(m[1]) : undefined;
    });
    waiting.child.kill('SIGINT');
    expect(await waiting.exited).toBe(1);
    expect(waiting.output()).toContain(
      `error: stopped waiting for task ${id} (NODE_CHECK node:n1), which goes on; to cancel it, run vplus task cancel ${id}`,
    );
    const still = (await t.api.request<Task>('GET', `/api/tasks/${id}`, undefined, { token: admin })).body;
    expect(still.state).toBe('RUNNING');

    expect(await vplusOk(['task', 'cancel', String(id), '--force'], env)).toMatch(new RegExp(`^Cancelled task ${id} \\(NODE_CHECK node:n1\\)\\.`));
    const after = vplus(['task', 'wait', String(id)], env);
    after.child.stdin!.end();
    expect(await after.exited).toBe(1);
    expect(after.output()).toContain(`error: task ${id} (NODE_CHECK node:n1) was cancelled by admin`);
  });
});
