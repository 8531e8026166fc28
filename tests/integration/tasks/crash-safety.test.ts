import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { ApiClient } from '../../support/api-client.js';
import { vplus, vplusOk, type Proc } from '../../support/processes.js';
import { ADMIN, makeTempDir, setupAdmin, startTestServer, waitFor } from '../../support/test-server.js';

const SAMPLE = 4 * 1024 ** 3; // long enough to be killed in the middle

async function enrolWithCli(api: ApiClient, admin: string, url: string, fingerprint: string, name: string, dir: string): Promise<string> {
  const token = await api.request<{ token: string }>('POST', '/api/nodes/tokens', undefined, { token: admin });
  const config = path.join(dir, `${name}.json`);
  await vplusOk(['node-service', 'enroll', '--server', url, '--token', token.body.token, '--fingerprint', fingerprint, '--config', config, '--name', name]);
  expect(fs.statSync(config).mode & 0o777).toBe(0o600);
  return config;
}

const runNode = (config: string): Proc => vplus(['node-service', 'run', '--config', config, '--log-level', 'warn']);

async function waitOnline(api: ApiClient, token: string, name: string, online = true): Promise<void> {
  await waitFor(`node ${name} ${online ? 'online' : 'offline'}`, async () => {
    const res = await api.request<{ name: string; status: string }[]>('GET', '/api/nodes', undefined, { token });
    return res.body.find((n) => n.name === name)?.status === (online ? 'online' : 'offline') ? true : undefined;
  });
}

async function waitMidTask(api: ApiClient, token: string, id: number): Promise<void> {
  await waitFor(`task ${id} to be writing`, async () => {
    const t = await api.request<Task>('GET', `/api/tasks/${id}`, undefined, { token });
    return t.body.state === 'RUNNING' && t.body.progress.bytesDone > 0 ? true : undefined;
  });
}

describe('crash safety', () => {
  const procs: Proc[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('marks a task "node lost" when its node is killed, re-queues it where safe, and a restarted node gets new work', async () => {
    const t = await startTestServer({ nodeHeartbeatSeconds: 0.5, nodeLossTimeoutSeconds: 3 });
    const dir = makeTempDir('killnode');
    dirs.push(dir);
    try {
      const admin = await setupAdmin(t.api);
      const config = await enrolWithCli(t.api, admin, t.server.url, t.server.fingerprint, 'victim', dir);
      const node = runNode(config);
      procs.push(node);
      await waitOnline(t.api, admin, 'victim');

      const task = (await t.api.request<Task>('POST', '/api/tasks/node-check', { node: 'victim', sampleBytes: SAMPLE }, { token: admin })).body;
      await waitMidTask(t.api, admin, task.id);
      node.child.kill('SIGKILL');

      const lostAt = Date.now();
      const lost = await waitFor('the task to lose its node', async () => {
        const d = (await t.api.request<TaskDetails>('GET', `/api/tasks/${task.id}`, undefined, { token: admin })).body;
        return d.state !== 'RUNNING' ? d : undefined;
      }, 30_000);
      expect(Date.now() - lostAt).toBeLessThan(20_000);
      expect(lost.log.some((l) => /node lost: victim disconnected at .* and did not reconnect within 3s/.test(l.message))).toBe(true);
      // NODE_CHECK is retryable, so it is re-queued (safe: it only measures) with the reason kept.
      expect(lost.state).toBe('QUEUED');
      expect(lost.error).toMatch(/^node lost: victim disconnected/);

      const again = runNode(config);
      procs.push(again);
      await waitOnline(t.api, admin, 'victim');
      const next = (await t.api.request<Task>('POST', '/api/tasks/node-check', { node: 'victim', sampleBytes: 8 * 1048576 }, { token: admin })).body;
      const done = await waitFor('new work to finish', async () => {
        const d = (await t.api.request<Task>('GET', `/api/tasks/${next.id}`, undefined, { token: admin })).body;
        return d.state.startsWith('FINISHED') ? d : undefined;
      }, 30_000);
      expect(done.node).toBe('victim');
      const retried = await waitFor('the re-queued check to run again', async () => {
        const d = (await t.api.request<Task>('GET', `/api/tasks/${task.id}`, undefined, { token: admin })).body;
        return d.state.startsWith('FINISHED') ? d : undefined;
      }, 60_000);
      expect(retried.attempt).toBe(2);
      // The killed run's scratch file was cleaned up when the node came back.
      const staging = JSON.parse(fs.readFileSync(config, 'utf8')) as { stagingDir: string };
      expect(fs.readdirSync(staging.stagingDir).filter((f) => f.startsWith('.node-check-'))).toEqual([]);
      again.child.kill('SIGTERM');
      await again.exited;
    } finally {
      await t.destroy();
    }
  });

  it('leaves no task RUNNING after the server is killed in the middle of one', async () => {
    const dir = makeTempDir('killserver');
    dirs.push(dir);
    const dataDir = path.join(dir, 'server');
    const pwFile = path.join(dir, 'pw');
    fs.writeFileSync(pwFile, `${ADMIN.password}\n`, { mode: 0o600 });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const env = { VPLUS_NODE_HEARTBEAT_SECONDS: '0.5', VPLUS_NODE_LOSS_TIMEOUT_SECONDS: '40' };
    const startServer = (): Proc => vplus(['server', 'start', '--data-dir', dataDir, '--port', String(port), '--bind', '127.0.0.1', '--admin-password-file', pwFile, '--log-level', 'warn'], env);

    let server = startServer();
    procs.push(server);
    const fingerprint = await waitFor('the server to print its fingerprint', async () => /fingerprint: ([0-9A-F:]{95})/.exec(server.output())?.[1], 60_000);
    const url = `https://127.0.0.1:${port}`;
    const api = new ApiClient(url, fingerprint);
    const admin = await api.login(ADMIN.username, ADMIN.password);
    const config = await enrolWithCli(api, admin, url, fingerprint, 'survivor', dir);
    const node = runNode(config);
    procs.push(node);
    await waitOnline(api, admin, 'survivor');

    const task = (await api.request<Task>('POST', '/api/tasks/node-check', { node: 'survivor', sampleBytes: SAMPLE }, { token: admin })).body;
    await waitMidTask(api, admin, task.id);
    server.child.kill('SIGKILL');
    await server.exited;

    server = startServer();
    procs.push(server);
    await waitFor('the restarted server', async () => (/is running at/.test(server.output()) ? true : undefined), 60_000);
    const token = await api.login(ADMIN.username, ADMIN.password);
    const final = await waitFor('the task to end', async () => {
      const d = (await api.request<Task>('GET', `/api/tasks/${task.id}`, undefined, { token })).body;
      return d.state !== 'RUNNING' && d.state !== 'QUEUED' ? d : undefined;
    }, 90_000);
    // The node kept writing while the server was down and delivered the result when it reconnected.
    expect(final.state).toMatch(/^FINISHED/);
    expect(final.result).toMatchObject({ sampleBytes: SAMPLE });

    node.child.kill('SIGTERM');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    await node.exited;
  });
});
