import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NotificationsService } from '../../../electron/server/notifications/notifications.service.js';
import type { PoliciesRepository, PolicyRow } from '../../../electron/server/policies/policies.repository.js';
import { Scheduler } from '../../../electron/server/scheduler/scheduler.js';
import { asCatalog, FakeCatalog, policyRow, type PolicyInit, runnerWorld, silentLogger, TestClock, vmRow } from './policy-fakes.js';

let running: Scheduler[] = [];
afterEach(async () => {
  for (const s of running) await s.stop();
  running = [];
});

/**
 * A scheduler over the in-memory catalog, with the real PolicyRunner (spied on) and a fake
 * engine; "the server starts" at `startIso`, which runs the first pass.
 */
async function startScheduler(startIso: string, policies: { row: PolicyRow; vms?: number }[], opts: { lockFree?: boolean } = {}) {
  const w = runnerWorld(new TestClock(Date.parse(startIso)));
  for (const { row, vms = 0 } of policies) w.repo.add(row, Array.from({ length: vms }, (_, i) => vmRow(row, i + 1)));
  const spies = {
    start: vi.spyOn(w.runner, 'start'),
    recordMissed: vi.spyOn(w.runner, 'recordMissed'),
    retention: vi.spyOn(w.runner, 'retention'),
    verify: vi.spyOn(w.runner, 'verify'),
  };
  const catalog = new FakeCatalog();
  catalog.lockFree = opts.lockFree ?? true;
  const scheduler = new Scheduler({
    catalog: asCatalog(catalog),
    repo: w.repo as unknown as PoliciesRepository,
    runner: w.runner,
    notifications: w.notifications as unknown as NotificationsService,
    logger: silentLogger,
    clock: w.clock,
  });
  running.push(scheduler);
  await scheduler.start();
  /** Moves the clock and runs a pass, as the wake-up at that time would. */
  const at = async (iso: string): Promise<void> => {
    w.clock.set(iso);
    await scheduler.tick();
  };
  return { ...w, spies, catalog, scheduler, at };
}

const daily22 = (name: string, window = '1h', p: PolicyInit = {}) =>
  policyRow({ name, schedules: [`incremental daily 22:00 window ${window}`], evaluated_until: new Date('2027-01-12T21:55:00Z'), ...p });

/** The runs of a policy as [scheduledFor, state or trigger, message]. */
const summary = (w: { repo: { runsOf(p: PolicyRow): { scheduled_for: Date | null; state: string; trigger: string; message: string | null }[] } }, p: PolicyRow) =>
  w.repo.runsOf(p).map((r) => [r.scheduled_for?.toISOString() ?? null, r.state === 'missed' ? 'missed' : r.trigger, r.message]);

describe('Scheduler: which occurrences run', () => {
  it('runs on time when the time comes, as a scheduled run, once', async () => {
    const nightly = daily22('nightly');
    const w = await startScheduler('2027-01-12T21:55:00Z', [{ row: nightly, vms: 1 }]);
    expect(w.scheduler.isLeader()).toBe(true);
    await w.at('2027-01-12T21:59:59Z');
    expect(w.spies.start).not.toHaveBeenCalled();
    await w.at('2027-01-12T22:00:05Z');
    expect(w.spies.start).toHaveBeenCalledTimes(1);
    expect(w.spies.start).toHaveBeenCalledWith(nightly, { trigger: 'schedule', backupType: 'incremental', scheduledFor: new Date('2027-01-12T22:00:00Z') }, 'scheduler');
    expect(w.repo.runsOf(nightly)).toMatchObject([{ state: 'running', trigger: 'schedule', vms: 1 }]);
    expect(nightly.evaluated_until).toEqual(new Date('2027-01-12T22:00:05Z'));
    await w.at('2027-01-12T22:30:00Z');
    expect(w.spies.start).toHaveBeenCalledTimes(1);
  });

  it('after downtime catches up a run inside its window; outside it, records it missed with the reason', async () => {
    const nightly = daily22('nightly');
    const short = daily22('short-window', '10m');
    const w = await startScheduler('2027-01-12T22:20:00Z', [{ row: nightly }, { row: short }]);
    expect(summary(w, nightly)).toEqual([['2027-01-12T22:00:00.000Z', 'catch-up', 'no virtual machines are in this policy']]);
    expect(summary(w, short)).toEqual([['2027-01-12T22:00:00.000Z', 'missed', 'not started within its 10 min window (the server was not running at 2027-01-12T22:00:00.000Z)']]);
    expect(w.notifications.kinds()).toEqual(['policy.missed short-window/missed']);
  });

  it('after days down only the newest occurrence inside its window runs; the older ones are missed', async () => {
    const nightly = daily22('nightly', '1h', { evaluated_until: new Date('2027-01-13T21:55:00Z') });
    const w = await startScheduler('2027-01-16T22:30:00Z', [{ row: nightly }]);
    const why = (day: number) => `not started within its 1 h window (the server was not running at 2027-01-${day}T22:00:00.000Z)`;
    expect(summary(w, nightly)).toEqual([
      ['2027-01-13T22:00:00.000Z', 'missed', why(13)],
      ['2027-01-14T22:00:00.000Z', 'missed', why(14)],
      ['2027-01-15T22:00:00.000Z', 'missed', why(15)],
      ['2027-01-16T22:00:00.000Z', 'catch-up', 'no virtual machines are in this policy'],
    ]);
    expect(w.spies.start).toHaveBeenCalledTimes(1);
  });

  it('of several occurrences inside their window, the older ones are superseded by the newest', async () => {
    const twice = policyRow({ name: 'twice', schedules: ['full daily 01:00,02:00'], evaluated_until: new Date('2027-01-12T00:30:00Z') });
    const w = await startScheduler('2027-01-12T02:30:00Z', [{ row: twice }]);
    expect(summary(w, twice)).toEqual([
      ['2027-01-12T01:00:00.000Z', 'missed', 'superseded by the later run at 2027-01-12T02:00:00.000Z'],
      ['2027-01-12T02:00:00.000Z', 'catch-up', 'no virtual machines are in this policy'],
    ]);
  });

  it('a run still going makes the next occurrence missed; once it ended, the next one runs', async () => {
    const nightly = daily22('nightly', '1h');
    const w = await startScheduler('2027-01-12T21:55:00Z', [{ row: nightly, vms: 1 }]);
    await w.at('2027-01-12T22:00:01Z');
    await w.at('2027-01-13T22:00:01Z');
    expect(summary(w, nightly)).toEqual([
      ['2027-01-12T22:00:00.000Z', 'schedule', null],
      ['2027-01-13T22:00:00.000Z', 'missed', 'the previous run of this policy was still going'],
    ]);
    await w.engine.finish(1, 'FINISHED');
    await w.at('2027-01-14T22:00:01Z');
    expect(w.repo.runsOf(nightly).map((r) => r.state)).toEqual(['finished', 'missed', 'running']);
  });

  it('a disabled policy neither runs nor misses, and later does not catch up what passed while it was off', async () => {
    const off = daily22('off', '1h', { enabled: 0 });
    const w = await startScheduler('2027-01-12T22:20:00Z', [{ row: off }]);
    await w.at('2027-01-13T22:00:05Z');
    expect(w.repo.runs).toEqual([]);
    expect(w.notifications.events).toEqual([]);
    expect(off.evaluated_until).toEqual(new Date('2027-01-13T22:00:05Z'));
    off.enabled = 1;
    await w.at('2027-01-13T22:10:00Z');
    expect(w.repo.runs).toEqual([]);
    await w.at('2027-01-14T22:00:05Z');
    expect(summary(w, off)).toEqual([['2027-01-14T22:00:00.000Z', 'schedule', 'no virtual machines are in this policy']]);
  });

  it('a standby server (the lock is someone else’s) runs nothing', async () => {
    const nightly = daily22('nightly');
    const w = await startScheduler('2027-01-12T22:20:00Z', [{ row: nightly }], { lockFree: false });
    expect(w.scheduler.isLeader()).toBe(false);
    await w.at('2027-01-12T22:30:00Z');
    expect(w.repo.runs).toEqual([]);
    expect(w.catalog.lockStatements).toEqual(['SELECT GET_LOCK']);
  });
});

describe('Scheduler: retention and verify schedules', () => {
  const retention = JSON.stringify({ daily: 7, keepLatestOfExistingVm: true });

  it('a retention schedule occurrence calls runner.retention, on time or as a catch-up', async () => {
    const pruned = policyRow({ name: 'pruned', retention, retention_schedule: 'daily 03:00', evaluated_until: new Date('2027-01-12T02:00:00Z') });
    const w = await startScheduler('2027-01-12T02:00:00Z', [{ row: pruned, vms: 1 }]);
    await w.at('2027-01-12T03:00:02Z');
    expect(w.spies.retention).toHaveBeenCalledTimes(1);
    expect(w.spies.retention).toHaveBeenLastCalledWith(pruned, 'schedule', new Date('2027-01-12T03:00:00Z'), 'scheduler');
    expect(w.engine.created.map((c) => c.type)).toEqual(['RETENTION']);
    await w.at('2027-01-13T05:00:00Z');
    expect(w.spies.retention).toHaveBeenLastCalledWith(pruned, 'catch-up', new Date('2027-01-13T03:00:00Z'), 'scheduler');
    expect(w.spies.start).not.toHaveBeenCalled();
  });

  it('a retention occurrence outside its window simply waits for its next time (not missed)', async () => {
    const pruned = policyRow({ name: 'pruned', retention, retention_schedule: 'daily 03:00 window 1h', evaluated_until: new Date('2027-01-12T02:00:00Z') });
    const w = await startScheduler('2027-01-12T05:00:00Z', [{ row: pruned, vms: 1 }]);
    expect(w.spies.retention).not.toHaveBeenCalled();
    expect(w.spies.recordMissed).not.toHaveBeenCalled();
    expect(w.repo.runs).toEqual([]);
  });

  it('a verify schedule occurrence calls runner.verify (backup policies only)', async () => {
    const checked = policyRow({ name: 'checked', verify_schedule: 'sun 04:00', evaluated_until: new Date('2027-01-17T03:00:00Z') });
    const snaps = policyRow({ name: 'snaps', kind: 'snapshot', destination_id: null, verify_schedule: 'sun 04:00', evaluated_until: new Date('2027-01-17T03:00:00Z') });
    const w = await startScheduler('2027-01-17T03:00:00Z', [{ row: checked }, { row: snaps }]);
    await w.at('2027-01-17T04:00:30Z');
    expect(w.spies.verify).toHaveBeenCalledTimes(1);
    expect(w.spies.verify).toHaveBeenCalledWith(checked, 'schedule', new Date('2027-01-17T04:00:00Z'), 'scheduler');
    expect(w.engine.created.map((c) => c.steps[0]!.type)).toEqual(['VERIFY']);
  });
});

describe('Scheduler: time zones and the daily report', () => {
  it('02:30 in Europe/Berlin on the spring-forward day runs once, at 03:00 local', async () => {
    const berlin = policyRow({ name: 'berlin', time_zone: 'Europe/Berlin', schedules: ['incremental daily 02:30'], evaluated_until: new Date('2027-03-27T23:00:00Z') });
    const w = await startScheduler('2027-03-27T23:00:00Z', [{ row: berlin }]);
    // 01:59:59 CET, the last second before the clocks go to 03:00 CEST.
    await w.at('2027-03-28T00:59:59Z');
    expect(w.spies.start).not.toHaveBeenCalled();
    for (const t of ['2027-03-28T01:00:01Z', '2027-03-28T01:30:00Z', '2027-03-28T02:30:00Z', '2027-03-28T12:00:00Z']) await w.at(t);
    expect(summary(w, berlin)).toEqual([['2027-03-28T01:00:00.000Z', 'schedule', 'no virtual machines are in this policy']]);
    // The next day 02:30 exists again: 00:30 UTC in summer time.
    await w.at('2027-03-29T00:30:01Z');
    expect(w.repo.runsOf(berlin).map((r) => r.scheduled_for?.toISOString())).toEqual(['2027-03-28T01:00:00.000Z', '2027-03-29T00:30:00.000Z']);
  });

  it('sends the daily report once when its time comes, remembering in the settings how far it looked', async () => {
    const w = await startScheduler('2027-01-12T06:00:00Z', []);
    w.notifications.dailyReport = { spec: 'daily 07:00', timeZone: 'UTC' };
    await w.at('2027-01-12T06:59:00Z');
    expect(w.notifications.dailyReports).toEqual([]);
    await w.at('2027-01-12T07:00:10Z');
    await w.at('2027-01-12T07:05:00Z');
    expect(w.notifications.dailyReports).toEqual([Date.parse('2027-01-12T07:00:10Z')]);
    expect(w.catalog.settings.get('scheduler.dailyReport.evaluatedUntil')).toBe(String(Date.parse('2027-01-12T07:05:00Z')));
  });
});
