import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { ServerEvent, TaskDetails } from '../../../common/api/index.js';
import {
  FakeTerminal,
  removeTempDirs,
  runVplus,
  sampleLog,
  sampleNode,
  sampleTask,
  startFakeApi,
  tempDir,
  type FakeApiServer,
} from './helpers.js';

afterAll(removeTempDirs);

const TOKEN = 'good-token';
const HOST_KEY = `SHA256:${'k'.repeat(43)}`;

/**
 * A fake server with the node and task routes, whose tasks follow a script:
 * each GET /api/tasks/:id answers the next step (the last one repeats), and
 * `onTaskRead` can push events over the WebSocket at that moment.
 */
interface Scenario {
  steps: Map<number, TaskDetails[]>;
  onTaskRead?: (id: number, read: number, send: (e: ServerEvent) => void) => void;
  websocket: boolean;
}

describe('node and task commands against the API', () => {
  let api: FakeApiServer;
  let env: Record<string, string>;
  let scenario: Scenario;
  let sockets: WebSocket[];
  const body = (i = -1): Record<string, unknown> => JSON.parse(api.requests.filter((r) => r.method !== 'UPGRADE').at(i)!.body || '{}') as Record<string, unknown>;
  const sent = (method: string, url: string): boolean => api.requests.some((r) => r.method === method && r.url === url);

  beforeEach(async () => {
    sockets = [];
    scenario = { steps: new Map(), websocket: true };
    const reads = new Map<number, number>();
    const send = (e: ServerEvent): void => sockets.forEach((s) => s.send(JSON.stringify(e)));
    api = await startFakeApi(
      ({ method, url, authorization }) => {
        if (authorization !== `Bearer ${TOKEN}`) return { status: 401, body: { error: 'UNAUTHENTICATED', message: 'log in first' } };
        if (method === 'POST' && url === '/api/nodes/tokens') {
          return { status: 201, body: { token: 'tok_abc123', expiresAt: '2025-01-31T11:00:00.000Z', fingerprint: api.fingerprint.replace(/:/g, '').toLowerCase() } };
        }
        if (method === 'GET' && url === '/api/nodes') return { status: 200, body: [sampleNode(), sampleNode({ id: 2, name: 'n2', status: 'offline', version: null, capabilities: null, ssh: null, installMethod: 'local-supervised' })] };
        if (method === 'GET' && (url === '/api/nodes/n1' || url === '/api/nodes/1')) return { status: 200, body: sampleNode() };
        if (method === 'POST' && url === '/api/nodes/ssh-probe') return { status: 200, body: { hostKeyFingerprint: HOST_KEY, keyType: 'ssh-ed25519' } };
        if (method === 'POST' && url === '/api/nodes/install') return { status: 202, body: { node: sampleNode({ status: 'installing', version: null }), taskId: 5 } };
        if (method === 'POST' && url === '/api/nodes/n1/restart') return { status: 204 };
        if (method === 'POST' && url === '/api/nodes/n1/upgrade') return { status: 202, body: sampleTask({ id: 6, type: 'NODE_UPGRADE', nodeId: null, node: null }) };
        if (method === 'DELETE' && (url === '/api/nodes/n1' || url === '/api/nodes/n1?force=true')) return { status: 202, body: sampleTask({ id: 8, type: 'NODE_REMOVE', nodeId: null, node: null }) };
        if (method === 'GET' && url === '/api/nodes/n1/log?lines=2') return { status: 200, body: { lines: ['line one', 'line two'] } };
        if (method === 'GET' && url.startsWith('/api/nodes/')) return { status: 404, body: { error: 'NOT_FOUND', message: 'there is no node "nope"' } };
        if (method === 'POST' && url === '/api/tasks/node-check') return { status: 201, body: sampleTask({ id: 9 }) };
        if (method === 'GET' && /^\/api\/tasks(\?|$)/.test(url)) return { status: 200, body: { nextCursor: '1735689600000.6', tasks: [sampleTask({ state: 'RUNNING', progress: { ...sampleTask().progress, bytesDone: 5, bytesTotal: 10, percent: 50 } }), sampleTask({ id: 6, type: 'NODE_INSTALL', state: 'FAILED', node: null, error: 'the SSH password was refused' })] } };
        // Task 7's log: five lines, two a page, from the newest back.
        const logPage = /^\/api\/tasks\/7\/log\?limit=\d+(?:&cursor=(\d+))?$/.exec(url);
        if (method === 'GET' && logPage) {
          const before = Number(logPage[1] ?? 6);
          const ids = [before - 2, before - 1].filter((id) => id >= 1);
          return { status: 200, body: { lines: ids.map((id) => sampleLog(id, `line ${id}`)), nextCursor: ids[0]! > 1 ? String(ids[0]) : null } };
        }
        if (method === 'GET' && url.startsWith('/api/audit?')) {
          const entry = (id: number, action: string) => ({ id, at: '2025-01-31T10:00:00.000Z', actor: 'admin', action, target: 'user:olivia', details: null, ip: null });
          return { status: 200, body: { entries: [entry(12, 'user.create'), entry(11, 'user.delete')], nextCursor: '1738317600000.11' } };
        }
        const taskRead = /^\/api\/tasks\/(\d+)$/.exec(url);
        if (method === 'GET' && taskRead) {
          const id = Number(taskRead[1]);
          const steps = scenario.steps.get(id);
          if (!steps) return { status: 404, body: { error: 'NOT_FOUND', message: `there is no task ${id}` } };
          const n = reads.get(id) ?? 0;
          reads.set(id, n + 1);
          setTimeout(() => scenario.onTaskRead?.(id, n, send), 20);
          return { status: 200, body: steps[Math.min(n, steps.length - 1)] };
        }
        const cancel = /^\/api\/tasks\/(\d+)\/cancel$/.exec(url);
        if (method === 'POST' && cancel) return { status: 200, body: sampleTask({ state: 'RUNNING', cancelRequested: true }) };
        return { status: 404 };
      },
      {
        events: {
          token: TOKEN,
          onConnection: (socket) => {
            if (!scenario.websocket) return void socket.terminate();
            sockets.push(socket);
            socket.send(JSON.stringify({ type: 'hello', serverTime: new Date().toISOString(), user: 'admin' }));
          },
        },
      },
    );
    const configFile = path.join(tempDir('node'), 'cli.json');
    fs.writeFileSync(configFile, JSON.stringify({ server: api.url, fingerprint: api.fingerprint, token: TOKEN, user: 'admin' }), { mode: 0o600 });
    env = { VPLUS_CONFIG: configFile };
  });
  afterEach(async () => {
    await api.close();
  });

  describe('node token create', () => {
    it('prints the token, its expiry, the fingerprint and the exact enroll command line', async () => {
      const run = await runVplus(['node', 'token', 'create'], { env });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Token: +tok_abc123$/m);
      expect(run.stdout).toMatch(/^Expires: +\d{4}-\d\d-\d\d \d\d:\d\d \(single use\)$/m);
      expect(run.stdout).toContain(`Fingerprint:  ${api.fingerprint}`);
      expect(run.stdout).toContain(`  vplus node-service enroll --server ${api.url} --token tok_abc123 --fingerprint ${api.fingerprint}\n`);
      expect(run.stderr).toMatch(/loopback address; on another host use an address of this server it can reach/);
    });

    it('--json prints the token, the server and the command, and nothing else', async () => {
      const run = await runVplus(['node', 'token', 'create', '--json'], { env });
      const json = JSON.parse(run.stdout) as Record<string, string>;
      expect(json).toMatchObject({ token: 'tok_abc123', fingerprint: api.fingerprint, server: api.url });
      expect(json.enrollCommand).toBe(`vplus node-service enroll --server ${api.url} --token tok_abc123 --fingerprint ${api.fingerprint}`);
    });
  });

  describe('node list / show / restart / log', () => {
    it('list prints a table, and --json the nodes with their capabilities', async () => {
      const table = await runVplus(['node', 'list'], { env });
      expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+HOST\s+STATUS\s+VERSION\s+TASKS\s+LAST SEEN$/);
      expect(table.stdout).toMatch(/^1\s+n1\s+backup-host\s+online\s+0\.1\.0\s+0\s+\d{4}-/m);
      expect(table.stdout).toMatch(/^2\s+n2\s+backup-host\s+offline\s+-\s+0/m);
      const json = JSON.parse((await runVplus(['node', 'list', '--json'], { env })).stdout) as { id: number; name: string; host: string; status: string; version: string | null; capabilities: unknown }[];
      expect(json.map((n) => [n.id, n.name, n.host, n.status, n.version])).toEqual([
        [1, 'n1', 'backup-host', 'online', '0.1.0'],
        [2, 'n2', 'backup-host', 'offline', null],
      ]);
      expect(json[0]!.capabilities).toMatchObject({ taskTypes: ['NODE_CHECK'], staging: { path: '/var/lib/vplus-node/staging' } });
    });

    it('show prints status, SSH, staging space and capabilities; an unknown node exits 1 with the server sentence', async () => {
      const run = await runVplus(['node', 'show', 'n1'], { env });
      expect(run.stdout).toMatch(/^Status: +online$/m);
      expect(run.stdout).toMatch(/^SSH: +root@backup-host \(password\), host key SHA256:A{43}$/m);
      expect(run.stdout).toMatch(/^Staging: +\/var\/lib\/vplus-node\/staging: 120 GiB free of 500 GiB$/m);
      expect(run.stdout).toMatch(/^qemu-img: +not installed$/m);
      const missing = await runVplus(['node', 'show', 'nope'], { env });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe('error: there is no node "nope"\n');
    });

    it('restart, and log --lines', async () => {
      expect((await runVplus(['node', 'restart', 'n1'], { env })).stdout).toBe('Restarted node n1.\n');
      expect((await runVplus(['node', 'log', 'n1', '--lines', '2'], { env })).stdout).toBe('line one\nline two\n');
    });

    it('upgrade and remove without --wait say how to follow the task', async () => {
      const upgrade = await runVplus(['node', 'upgrade', 'n1'], { env });
      expect(upgrade.stdout).toBe('Upgrading node n1: task 6.\nFollow it with: vplus task wait 6\n');
      const remove = await runVplus(['node', 'remove', 'n1'], { env });
      expect(remove.stdout).toBe('Removing node n1: task 8.\nFollow it with: vplus task wait 8\n');
      expect(sent('DELETE', '/api/nodes/n1')).toBe(true);
      await runVplus(['node', 'remove', 'n1', '--force'], { env });
      expect(sent('DELETE', '/api/nodes/n1?force=true')).toBe(true);
    });
  });

  describe('node install', () => {
    it('--local --wait follows the install over the WebSocket, printing its log, and exits 0', async () => {
      const running = { ...sampleTask({ id: 5, type: 'NODE_INSTALL', state: 'RUNNING', node: null, nodeId: null }), log: [sampleLog(1, 'installing under /opt/vplus-node')] };
      scenario.steps.set(5, [
        running,
        { ...running, state: 'FINISHED', startedAt: '2025-01-31T10:00:00.000Z', finishedAt: '2025-01-31T10:00:12.000Z', log: [...running.log, sampleLog(2, 'service started'), sampleLog(3, 'node n1 is online')] },
      ]);
      scenario.onTaskRead = (_id, n, send) => {
        if (n !== 0) return;
        send({ type: 'task.log', taskId: 5, line: { id: 2, at: '2025-01-31T10:00:02.000Z', level: 'info', message: 'service started' } });
        send({ type: 'task.log', taskId: 5, line: { id: 3, at: '2025-01-31T10:00:03.000Z', level: 'info', message: 'node n1 is online' } });
        send({ type: 'task', task: { ...running, state: 'FINISHED' } });
      };
      const run = await runVplus(['node', 'install', '--local', '--name', 'n1', '--wait'], { env });
      expect(run.stderr).toContain('Task 5 (NODE_INSTALL node:n1) is running on the server.');
      expect(run.code).toBe(0);
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('Installing node "n1" on this computer: task 5.');
      expect(lines.slice(1, 4).map((l) => l.replace(/^\S+ INFO {2}/, ''))).toEqual(['installing under /opt/vplus-node', 'service started', 'node n1 is online']);
      expect(lines.slice(4)).toEqual(['Task 5 (NODE_INSTALL node:n1) finished in 12s.', 'Node "n1" is online, version 0.1.0.']);
      expect(body(0)).toEqual({ method: 'local', name: 'n1' });
      expect(api.requests.some((r) => r.method === 'UPGRADE' && r.url === '/api/events' && r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    });

    it('without a fingerprint and without a terminal, shows the host key, exits 2, and installs nothing', async () => {
      const run = await runVplus(['node', 'install', '--ssh', 'root@10.0.0.7:2222', '--password-stdin'], { env, stdin: 'pw\n', terminal: null });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        `The host key of 10.0.0.7:2222 is ${HOST_KEY} (ED25519); compare it with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host\n`,
      );
      expect(run.stderr).toContain(`error: cannot ask whether to trust the host key of 10.0.0.7:2222 without a terminal; if it is right, pass --host-key-fingerprint ${HOST_KEY}\n`);
      expect(JSON.parse(api.requests.find((r) => r.url === '/api/nodes/ssh-probe')!.body)).toEqual({ host: '10.0.0.7', port: 2222 });
      expect(sent('POST', '/api/nodes/install')).toBe(false);
    });

    it('asks on the terminal while the password is piped in, and sends it only after the key is trusted', async () => {
      const terminal = new FakeTerminal(['y']);
      const run = await runVplus(['node', 'install', '--ssh', 'root@10.0.0.7:2222', '--password-stdin', '--server-address', '10.0.0.1'], {
        env,
        stdin: 'ssh-secret-1\n',
        terminal,
        stdinIsTTY: false,
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(terminal.said.join('\n')).toContain(`The host key of 10.0.0.7:2222 is ${HOST_KEY} (ED25519)`);
      expect(terminal.asked).toEqual(['Trust this host key? [y/N] ']);
      expect(terminal.closed).toBe(true);
      expect(body()).toEqual({ method: 'ssh', host: '10.0.0.7', port: 2222, user: 'root', password: 'ssh-secret-1', hostKeyFingerprint: HOST_KEY, serverAddress: '10.0.0.1' });
      expect(run.stdout).toBe('Installing node "n1" on 10.0.0.7:2222: task 5.\nFollow it with: vplus task wait 5\n');
      expect(run.stdout + run.stderr).not.toContain('ssh-secret-1');
    });

    it('stops when the host key is not trusted', async () => {
      const run = await runVplus(['node', 'install', '--ssh', 'root@10.0.0.7', '--password-stdin'], { env, stdin: 'pw', terminal: new FakeTerminal(['n']), stdinIsTTY: false });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe('error: the host key of 10.0.0.7 was not trusted; nothing was installed\n');
      expect(sent('POST', '/api/nodes/install')).toBe(false);
    });

    it('with --host-key-fingerprint does not probe or ask', async () => {
      const run = await runVplus(['node', 'install', '--ssh', 'admin@[fe80::1]:22', '--password-stdin', '--host-key-fingerprint', `sha256:${'k'.repeat(43)}=`, '--name', 'edge'], { env, stdin: 'pw\n', terminal: null });
      expect(run.code).toBe(0);
      expect(sent('POST', '/api/nodes/ssh-probe')).toBe(false);
      expect(body()).toMatchObject({ method: 'ssh', name: 'edge', host: 'fe80::1', port: 22, user: 'admin', hostKeyFingerprint: HOST_KEY });
    });

    it('sends a key file, and its passphrase from stdin after checking it unlocks the key', async () => {
      const dir = tempDir('keys');
      const keyFile = path.join(dir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'key-pass-1', '-C', 'test', '-f', keyFile]);
      const args = ['node', 'install', '--ssh', 'root@10.0.0.7', '--key', keyFile, '--host-key-fingerprint', HOST_KEY];

      const noPassphrase = await runVplus(args, { env });
      expect(noPassphrase.code).toBe(2);
      expect(noPassphrase.stderr).toBe(`error: the key ${keyFile} is encrypted; give its passphrase with --passphrase-stdin\n`);

      const wrong = await runVplus([...args, '--passphrase-stdin'], { env, stdin: 'wrong\n' });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toBe(`error: the passphrase does not unlock the key ${keyFile}\n`);
      expect(sent('POST', '/api/nodes/install')).toBe(false);

      const right = await runVplus([...args, '--passphrase-stdin'], { env, stdin: 'key-pass-1\n' });
      expect(right.code).toBe(0);
      expect(body()).toMatchObject({ privateKey: fs.readFileSync(keyFile, 'utf8'), passphrase: 'key-pass-1' });
      expect(body()).not.toHaveProperty('password');

      const pub = await runVplus(['node', 'install', '--ssh', 'root@h', '--key', `${keyFile}.pub`, '--host-key-fingerprint', HOST_KEY], { env });
      expect(pub.code).toBe(2);
      expect(pub.stderr).toBe(`error: ${keyFile}.pub is a public key; give the private key, ${keyFile}\n`);
      const missing = await runVplus(['node', 'install', '--ssh', 'root@h', '--key', path.join(dir, 'nope'), '--host-key-fingerprint', HOST_KEY], { env });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/cannot read the key file .*nope: no such file/);
    });
  });

  describe('node check --wait and task wait', () => {
    it('polls when the WebSocket is refused; a failed check exits 1 with its error as the reason', async () => {
      scenario.websocket = false;
      scenario.steps.set(9, [
        { ...sampleTask({ id: 9, state: 'RUNNING' }), log: [] },
        { ...sampleTask({ id: 9, state: 'FAILED', error: 'staging /var/lib/vplus-node/staging has only 0.1 GiB free; free space or choose another staging path' }), log: [sampleLog(1, 'staging: 0.1 GiB free', 'error')] },
      ]);
      const run = await runVplus(['node', 'check', 'n1', '--sample-mib', '64', '--wait'], { env });
      expect(run.code).toBe(1);
      expect(body(0)).toEqual({ node: 'n1', sampleBytes: 64 * 1024 * 1024 });
      expect(run.stdout).toMatch(/^Checking node n1: task 9\.\n\S+ ERROR staging: 0\.1 GiB free\n$/);
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(
        'error: task 9 (NODE_CHECK node:n1) failed: staging /var/lib/vplus-node/staging has only 0.1 GiB free; free space or choose another staging path',
      );
    });

    it('task wait prints the warnings of a task that finished with them, and exits 0', async () => {
      scenario.steps.set(7, [{ ...sampleTask({ state: 'FINISHED_WITH_WARNINGS', warnings: ['staging writes only 12.0 MiB/s; backups through this node will be slow'] }), log: [] }]);
      const run = await runVplus(['task', 'wait', '7'], { env });
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('warning: staging writes only 12.0 MiB/s; backups through this node will be slow\n');
      expect(run.stdout).toBe('Task 7 (NODE_CHECK node:n1) finished with 1 warning.\n');
    });

    it('task wait on a cancelled task exits 1, and on an unknown one with the server sentence', async () => {
      scenario.steps.set(7, [{ ...sampleTask({ state: 'CANCELLED', error: 'cancelled by admin' }), log: [] }]);
      const cancelled = await runVplus(['task', 'wait', '7'], { env });
      expect(cancelled.code).toBe(1);
      expect(cancelled.stderr).toBe('error: task 7 (NODE_CHECK node:n1) was cancelled by admin\n');
      const unknown = await runVplus(['task', 'wait', '99'], { env });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toBe('error: there is no task 99\n');
    });
  });

  describe('task list / show / cancel', () => {
    it('list passes the filters and prints a table; --json an array of tasks', async () => {
      const run = await runVplus(['task', 'list', '--state', 'running', '--type', 'node_check', '--node', 'n1', '--limit', '5'], { env });
      expect(api.requests.at(-1)!.url).toBe('/api/tasks?state=RUNNING&type=NODE_CHECK&node=n1&limit=5');
      expect(run.stdout.split('\n')[0]).toMatch(/^ID\s+TYPE\s+STATE\s+PROGRESS\s+NODE\s+CREATED\s+ERROR$/);
      expect(run.stdout).toMatch(/^7\s+NODE_CHECK\s+RUNNING\s+50%\s+n1\s+\d{4}-\d\d-\d\d \d\d:\d\d$/m);
      expect(run.stdout).toMatch(/^6\s+NODE_INSTALL\s+FAILED\s+-\s+-\s+\S+ \S+\s+the SSH password was refused$/m);
      expect(run.stderr).toBe('There are older tasks: add --cursor 1735689600000.6 for the next 2.\n');
      const json = JSON.parse((await runVplus(['task', 'list', '--json'], { env })).stdout) as { id: number; type: string; state: string; progress: unknown; node: string | null; createdAt: string; error: string | null }[];
      expect(json.map((t) => [t.id, t.type, t.state, t.node, t.error])).toEqual([
        [7, 'NODE_CHECK', 'RUNNING', 'n1', null],
        [6, 'NODE_INSTALL', 'FAILED', null, 'the SSH password was refused'],
      ]);
      expect(json[0]!.progress).toMatchObject({ percent: 50 });
    });

    it('show prints the fields and the log; --json the task with its log', async () => {
      scenario.steps.set(7, [
        { ...sampleTask({ state: 'FINISHED', result: { freeBytes: 1024 ** 3, writeBytesPerSecond: 100 * 1024 * 1024 }, progress: { ...sampleTask().progress, percent: 100 } }), log: [sampleLog(1, 'measured')] },
      ]);
      const run = await runVplus(['task', 'show', '7'], { env });
      expect(run.stdout).toMatch(/^State: +FINISHED$/m);
      expect(run.stdout).toMatch(/^Attempt: +1 of 2$/m);
      expect(run.stdout).toMatch(/^Result: +freeBytes=1\.00 GiB, writeBytesPerSecond=100 MiB\/s$/m);
      expect(run.stdout).toMatch(/^Log:\n {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO {2}measured$/m);
      const json = JSON.parse((await runVplus(['task', 'show', '7', '--json'], { env })).stdout) as TaskDetails;
      expect(json.log.map((l) => l.message)).toEqual(['measured']);
    });

    it('show points to the earlier lines of a long log; log prints all of it, oldest first, a page at a time', async () => {
      scenario.steps.set(7, [{ ...sampleTask({ state: 'FINISHED' }), log: [sampleLog(9, 'newest')], logCursor: '9' }]);
      expect((await runVplus(['task', 'show', '7'], { env })).stdout).toMatch(/^Log:\n {2}\(earlier lines: vplus task log 7\)\n/m);
      const run = await runVplus(['task', 'log', '7'], { env });
      expect(run.stdout.trimEnd().split('\n').map((l) => l.replace(/^\S+ \S+ INFO {2}/, ''))).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
      expect(api.requests.filter((r) => r.url.startsWith('/api/tasks/7/log')).map((r) => r.url)).toEqual(['/api/tasks/7/log?limit=5000', '/api/tasks/7/log?limit=5000&cursor=4', '/api/tasks/7/log?limit=5000&cursor=2']);
    });

    it('audit list passes the filters, prints a table and the cursor of the next page', async () => {
      const run = await runVplus(['audit', 'list', '--user', 'admin', '--action', 'user.', '--since', '2025-01-01T00:00:00Z', '--limit', '2', '--cursor', '1738317600000.13'], { env });
      expect(run.code).toBe(0);
      expect(api.requests.at(-1)!.url).toBe('/api/audit?actor=admin&action=user.&from=2025-01-01T00%3A00%3A00.000Z&limit=2&cursor=1738317600000.13');
      expect(run.stdout.split('\n')[0]).toMatch(/^TIME\s+USER\s+ACTION\s+TARGET$/);
      expect(run.stdout).toMatch(/^\S+ \S+\s+admin\s+user\.create\s+user:olivia$/m);
      expect(run.stderr).toBe('There are older entries: add --cursor 1738317600000.11 for the next 2.\n');
      const bad = await runVplus(['audit', 'list', '--since', 'last week'], { env });
      expect(bad.code).toBe(2);
    });

    it('cancel asks the task to stop, --force ends it now', async () => {
      const run = await runVplus(['task', 'cancel', '7'], { env });
      expect(run.code).toBe(0);
      expect(body()).toEqual({});
      expect(run.stdout).toBe('Asked task 7 (NODE_CHECK node:n1) to stop; node n1 ends it shortly. To end it at once, run vplus task cancel 7 --force\n');
      await runVplus(['task', 'cancel', '7', '--force'], { env });
      expect(body()).toEqual({ force: true });
    });
  });
});
