import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy, PolicyRun, PolicyRunPage } from '../../../common/api/policies.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/**
 * The scheduler across server restarts, on a real catalog, with the clock placed by the
 * test: a run whose time passed while the server was down is caught up once if the server
 * comes back inside its window, and recorded as missed otherwise; an on-time run happens
 * when its time comes; a disabled policy neither runs nor misses.
 */
describe('scheduler: catch-up and missed runs across a server restart', () => {
  let now = Date.parse('2027-01-12T21:55:00Z');
  const clock = { now: () => now };
  const dataDir = makeTempDir('scheduler');
  let t: TestServer | undefined;
  let admin: string;
  let node: TestNode | undefined;

  const start = async (): Promise<TestServer> => {
    t = await startTestServer({ dataDir }, { clock });
    admin = await t.api.login('admin', 'admin-password-1').catch(async () => setupAdmin(t!.api));
    return t;
  };
  const api = <T>(method: string, p: string, body?: unknown) => t!.api.request<T>(method, p, body, { token: admin });
  const runs = async (policy: string): Promise<PolicyRun[]> => (await api<PolicyRunPage>('GET', `/api/policies/${policy}/runs`)).body.runs;

  beforeAll(async () => {
    await start();
    node = await enrollTestNode(t!.api, admin, { name: 'sched-node', handlers: defaultHandlers(), serverUrl: t!.server.url, fingerprint: t!.server.fingerprint });
    const dest = await api<{ message?: string }>('POST', '/api/destinations', { name: 'nas', node: 'sched-node', path: `${makeTempDir('sched-repo')}/vplus` });
    expect(dest.status, dest.body.message).toBe(201);
    for (const [name, window, enabled] of [
      ['nightly', '1h', true],
      ['short-window', '10m', true],
      ['disabled', '1h', false],
    ] as const) {
      const res = await api<Policy & { message?: string }>('POST', '/api/policies', {
        name,
        destination: 'nas',
        timeZone: 'UTC',
        enabled,
        schedules: [`incremental daily 22:00 window ${window}`],
      });
      expect(res.status, res.body.message).toBe(201);
      expect(res.body.nextRun?.at ?? null).toBe(enabled ? '2027-01-12T22:00:00.000Z' : null);
    }
    await node.stop();
    node = undefined;
    await t!.stop();
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
  });

  it('a start inside the window catches the run up once; outside it, the run is recorded as missed', async () => {
    now = Date.parse('2027-01-12T22:20:00Z');
    await start();
    const nightly = await waitFor('the caught-up run to end', async () => {
      const r = await runs('nightly');
      return r[0]?.state === 'finished' ? r : undefined;
    });
    expect(nightly).toHaveLength(1);
    expect(nightly[0]).toMatchObject({ trigger: 'catch-up', backupType: 'incremental', scheduledFor: '2027-01-12T22:00:00.000Z', vms: 0 });
    expect(nightly[0]!.message).toBe('no virtual machines are in this policy');

    const short = await runs('short-window');
    expect(short).toHaveLength(1);
    expect(short[0]).toMatchObject({ state: 'missed', scheduledFor: '2027-01-12T22:00:00.000Z', startedAt: null });
    expect(short[0]!.message).toMatch(/^not started within its 10 min window \(the server was not running at 2027-01-12T22:00:00.000Z\)$/);
    expect(await runs('disabled')).toEqual([]);
  });

  it('starting again later does not run the same occurrence twice', async () => {
    await t!.stop();
    now = Date.parse('2027-01-12T22:40:00Z');
    await start();
    await t!.server.scheduler.tick();
    expect(await runs('nightly')).toHaveLength(1);
    expect(await runs('short-window')).toHaveLength(1);
  });

  it('runs on time when the time comes, as a scheduled (not caught-up) run', async () => {
    now = Date.parse('2027-01-13T22:00:05Z');
    await t!.server.scheduler.tick();
    const nightly = await runs('nightly');
    expect(nightly).toHaveLength(2);
    expect(nightly[0]).toMatchObject({ trigger: 'schedule', scheduledFor: '2027-01-13T22:00:00.000Z' });
    const short = await runs('short-window');
    expect(short[0]).toMatchObject({ trigger: 'schedule', scheduledFor: '2027-01-13T22:00:00.000Z' });
    expect(await runs('disabled')).toEqual([]);
    const policy = (await api<Policy>('GET', '/api/policies/nightly')).body;
    expect(policy.nextRun?.at).toBe('2027-01-14T22:00:00.000Z');
    expect(policy.lastRun?.id).toBe(nightly[0]!.id);
  });

  it('after days down, only the newest occurrence inside its window runs; the older ones are missed', async () => {
    await t!.stop();
    now = Date.parse('2027-01-16T22:30:00Z');
    await start();
    const nightly = await waitFor('runs', async () => {
      const r = await runs('nightly');
      return r.length === 5 ? r : undefined;
    });
    // 14th and 15th missed (outside the 1 h window), 16th caught up.
    expect(nightly.slice(0, 3).map((r) => [r.scheduledFor, r.state === 'missed' ? 'missed' : r.trigger]).sort()).toEqual([
      ['2027-01-14T22:00:00.000Z', 'missed'],
      ['2027-01-15T22:00:00.000Z', 'missed'],
      ['2027-01-16T22:00:00.000Z', 'catch-up'],
    ]);
  });

  it('runs retention on its own schedule too', async () => {
    const res = await api<Policy & { message?: string }>('POST', '/api/policies', {
      name: 'pruned',
      destination: 'nas',
      timeZone: 'UTC',
      schedules: [],
      retention: { daily: 7 },
      retentionSchedule: 'daily 03:00',
    });
    expect(res.status, res.body.message).toBe(201);
    expect(res.body.retentionSchedule).toBe('daily 03:00');
    now = Date.parse('2027-01-17T03:00:02Z');
    await t!.server.scheduler.tick();
    const pruned = await runs('pruned');
    expect(pruned).toHaveLength(1);
    expect(pruned[0]).toMatchObject({ trigger: 'schedule', scheduledFor: '2027-01-17T03:00:00.000Z', state: 'finished', message: 'no virtual machines are in this policy; nothing to prune' });
  });
});
