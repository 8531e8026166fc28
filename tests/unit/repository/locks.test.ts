import { spawnSync } from 'node:child_process';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeFileSystem } from '../../../node-service/repository/file-system.js';
import { LeaseManager } from '../../../node-service/repository/locks.js';
import { silentLogger } from '../../../node-service/repository/logger.js';
import { currentLeaseHolder, holderLiveness } from '../../../node-service/repository/process-identity.js';
import { FakeClock, TempDirs } from './helpers.js';

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

async function manager(clock: FakeClock): Promise<{ m: LeaseManager; locks: string }> {
  const root = await dirs.make();
  await mkdir(path.join(root, 'locks'));
  const m = new LeaseManager(root, new NodeFileSystem(), clock, { staleMs: 60_000, refreshMs: 10_000 }, silentLogger);
  return { m, locks: path.join(root, 'locks') };
}

describe('repository leases', () => {
  it('lets backups share, and keeps GC and backups apart in both directions', async () => {
    const clock = new FakeClock();
    const { m, locks } = await manager(clock);
    const a = await m.acquire('shared', 'backup', 'b1');
    const b = await m.acquire('shared', 'backup', 'b2');
    await expect(m.acquire('exclusive', 'gc')).rejects.toMatchObject({ code: 'REPO_LOCKED', message: expect.stringMatching(/a backup b1 is running/) });
    await a.release();
    await b.release();
    expect(await readdir(locks)).toEqual([]);
    const gc = await m.acquire('exclusive', 'gc');
    await expect(m.acquire('shared', 'backup')).rejects.toMatchObject({ message: expect.stringMatching(/garbage collection is running/) });
    await expect(m.acquire('exclusive', 'gc')).rejects.toMatchObject({ code: 'REPO_LOCKED' });
    await gc.release();
    // A refused attempt leaves no lease file behind.
    expect(await readdir(locks)).toEqual([]);
  });

  it('ignores and then removes a lease that stopped being refreshed', async () => {
    const clock = new FakeClock();
    const { m, locks } = await manager(clock);
    // What a killed backup leaves behind: its lease file, never refreshed again.
    const file = path.join(locks, 'shared-0123456789abcdef.json');
    const info = { id: 'shared-0123456789abcdef', kind: 'shared', purpose: 'backup', host: 'h', pid: 1, createdAt: 'then' };
    await writeFile(file, JSON.stringify(info));
    await utimes(file, new Date(clock.now()), new Date(clock.now()));
    await expect(m.acquire('exclusive', 'gc')).rejects.toMatchObject({ code: 'REPO_LOCKED' });
    clock.advance(61_000);
    expect((await m.list()).map((l) => l.stale)).toEqual([true]);
    const gc = await m.acquire('exclusive', 'gc');
    await gc.release();
    expect(await m.removeStale()).toBe(1);
    expect(await readdir(locks)).toEqual([]);
  });

  it('a lease whose process is gone from this machine is stale at once; one of another machine or a live process is not', async () => {
    const clock = new FakeClock();
    const { m, locks } = await manager(clock);
    const me = currentLeaseHolder();
    // A real process that has exited: its pid is free (or reused by another start time).
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    expect(deadPid).toBeGreaterThan(0);
    const lease = (id: string, extra: object) => ({ id, kind: 'shared', purpose: 'backup', createdAt: new Date(clock.now()).toISOString(), ...extra });
    const write = async (id: string, body: object) => {
      const file = path.join(locks, `${id}.json`);
      await writeFile(file, JSON.stringify(body));
      await utimes(file, new Date(clock.now()), new Date(clock.now()));
    };
    await write('shared-dead', lease('shared-dead', { host: me.host, machine: me.machine, pid: deadPid, startTicks: 1 }));
    await write('shared-recycled', lease('shared-recycled', { host: me.host, machine: me.machine, pid: process.pid, startTicks: (me.startTicks ?? 0) + 1 }));
    await write('shared-alive', lease('shared-alive', { host: me.host, machine: me.machine, pid: process.pid, startTicks: me.startTicks }));
    await write('shared-elsewhere', lease('shared-elsewhere', { host: me.host, machine: 'another-boot/pid:[1]', pid: deadPid, startTicks: 1 }));
    await write('shared-old', lease('shared-old', { host: me.host, pid: deadPid }));
    const state = Object.fromEntries((await m.list()).map((l) => [l.info.id, l.staleReason ?? 'live']));
    expect(state).toEqual({ 'shared-dead': 'holder-gone', 'shared-recycled': 'holder-gone', 'shared-alive': 'live', 'shared-elsewhere': 'live', 'shared-old': 'live' });
    // Only the live ones keep GC out.
    await expect(m.acquire('exclusive', 'gc')).rejects.toMatchObject({ message: expect.not.stringMatching(/shared-dead|shared-recycled/) });
    expect(holderLiveness({ host: me.host, machine: me.machine, pid: deadPid })).toBe('dead');
    expect(holderLiveness({ host: 'other-host', machine: me.machine, pid: deadPid })).toBe('unknown');
  });

  it('treats a garbled lease file as a live exclusive lease until it goes stale', async () => {
    const clock = new FakeClock();
    const { m, locks } = await manager(clock);
    const file = path.join(locks, 'exclusive-garbled.json');
    await writeFile(file, '{not json');
    await utimes(file, new Date(clock.now()), new Date(clock.now()));
    await expect(m.acquire('shared', 'backup')).rejects.toMatchObject({ code: 'REPO_LOCKED' });
    clock.advance(61_000);
    await (await m.acquire('shared', 'backup')).release();
  });

  it('a refreshed lease stays live', async () => {
    const clock = new FakeClock();
    const { m } = await manager(clock);
    const l = await m.acquire('shared', 'backup');
    clock.advance(50_000);
    await l.refresh();
    clock.advance(50_000);
    expect(l.lapsed).toBe(false);
    await expect(m.acquire('exclusive', 'gc')).rejects.toMatchObject({ code: 'REPO_LOCKED' });
    clock.advance(11_000);
    expect(l.lapsed).toBe(true);
    await l.release();
  });
});
