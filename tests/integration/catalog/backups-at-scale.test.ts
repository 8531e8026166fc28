import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, BackupPage } from '../../../common/api/backups.js';
import type { Vm } from '../../../common/api/hypervisors.js';
import { BackupsRepository } from '../../../electron/server/backups/backups.repository.js';
import type { SqlValue } from '../../../electron/server/db/catalog.js';
import { scaleVmName, scaleVmUuid } from '../../../electron/server/db/scale-fixture.js';
import { DestinationsRepository } from '../../../electron/server/destinations/destinations.repository.js';
import { startScaleServer, type ScaleServer } from '../../support/scale-catalog.js';

const VMS = 40;
const DAYS = 60;
const NOW = new Date('2026-06-15T12:00:00Z');
/** Odd, so that pages end in the middle of a night. */
const PAGE = 97;

/**
 * The backup list and the VM summaries on the scale fixture, through the real API: every
 * filter returns exactly the rows a plain query of the catalog says, in order; cursor pages
 * cover them exactly once, deep pages included; summaries follow every change of a backup.
 */
describe('backups at scale', () => {
  let s: ScaleServer;
  beforeAll(async () => {
    s = await startScaleServer({ vms: VMS, days: DAYS, now: NOW });
    // A small fixture has few rare states: a verify of nas-2 finds some damaged and missing.
    const nas2 = await destinationId('nas-2');
    const ids = (await s.catalog.query<{ repo_backup_id: string }>("SELECT repo_backup_id FROM backups WHERE destination_id = ? AND status = 'available' ORDER BY id", [nas2])).map((r) => r.repo_backup_id);
    const gone = new Set([ids[10]!, ids[400]!]);
    await new DestinationsRepository(s.catalog).reconcileVerify(nas2, {
      present: new Set(ids.filter((id) => !gone.has(id))),
      damagedChunks: new Map([[ids[20]!, 3], [ids[300]!, 1], [ids[500]!, 7]]),
      damagedManifests: new Map(),
      complete: false,
      at: NOW,
    });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  const get = async <T>(path: string): Promise<T> => {
    const res = await s.api.request<T>('GET', path, undefined, { token: s.token });
    expect(res.status, `${path}: ${res.text}`).toBe(200);
    return res.body;
  };
  /** Every page of a query, following nextCursor. */
  const allPages = async (query: string, limit = PAGE): Promise<{ ids: number[]; pages: number }> => {
    const ids: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: BackupPage = await get<BackupPage>(`/api/backups?limit=${limit}&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.backups.length).toBeLessThanOrEqual(limit);
      ids.push(...page.backups.map((b) => b.id));
      cursor = page.nextCursor;
      pages++;
      expect(pages).toBeLessThan(1000);
    } while (cursor !== null);
    return { ids, pages };
  };
  /** The oracle: what a plain query of the catalog lists, newest first. */
  const expected = async (where: string, params: SqlValue[] = []): Promise<number[]> =>
    (await s.catalog.query<{ id: number }>(`SELECT id FROM backups ${where ? `WHERE ${where}` : ''} ORDER BY created_at DESC, id DESC`, params)).map((r) => Number(r.id));
  const destinationId = async (name: string): Promise<number> => Number((await s.catalog.query<{ id: number }>('SELECT id FROM destinations WHERE name = ?', [name]))[0]!.id);

  it('pages through the whole catalog exactly once, newest first', async () => {
    const all = await expected('');
    expect(all).toHaveLength(VMS * DAYS);
    const { ids, pages } = await allPages('');
    expect(pages).toBe(Math.ceil(all.length / PAGE));
    expect(ids).toEqual(all);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('answers a page deep in the history from its cursor, and from an offset as before', async () => {
    const all = await expected('');
    const first = await get<BackupPage>('/api/backups?limit=1000');
    const second = await get<BackupPage>(`/api/backups?limit=1000&cursor=${encodeURIComponent(first.nextCursor!)}`);
    expect([...first.backups, ...second.backups].map((b) => b.id)).toEqual(all.slice(0, 2000));
    const deep = await get<BackupPage>(`/api/backups?limit=100&cursor=${encodeURIComponent(second.nextCursor!)}`);
    expect(deep.backups.map((b) => b.id)).toEqual(all.slice(2000, 2100));
    const last = await get<BackupPage>(`/api/backups?limit=${all.length - 2100}&cursor=${encodeURIComponent(deep.nextCursor!)}`);
    expect(last.backups.map((b) => b.id)).toEqual(all.slice(2100));
    expect(last.nextCursor).toBeNull();
    expect((await get<BackupPage>('/api/backups?limit=100&offset=2000')).backups.map((b) => b.id)).toEqual(all.slice(2000, 2100));
  });

  it('returns exactly the rows of each filter, and of filters together', async () => {
    const usb = await destinationId('usb-1');
    const from = new Date(NOW.getTime() - 20 * 86_400_000).toISOString();
    const to = new Date(NOW.getTime() - 13 * 86_400_000).toISOString();
    const cases: [string, string, SqlValue[]][] = [
      [`vm=${scaleVmUuid(7)}`, 'vm = ?', [scaleVmUuid(7)]],
      ['destination=usb-1', 'destination_id = ?', [usb]],
      [`destination=${usb}`, 'destination_id = ?', [usb]],
      ['status=available', "status = 'available'", []],
      ['status=removed', "status = 'removed'", []],
      ['status=damaged', "status = 'damaged'", []],
      ['status=missing', "status = 'missing'", []],
      ['protected=true', 'protected = 1', []],
      ['protected=false', 'protected = 0', []],
      [`from=${from}&to=${to}`, 'created_at >= ? AND created_at < ?', [new Date(from), new Date(to)]],
      [`vm=${scaleVmUuid(6)}&from=${from}&to=${to}`, 'vm = ? AND created_at >= ? AND created_at < ?', [scaleVmUuid(6), new Date(from), new Date(to)]],
      ['destination=usb-1&status=removed', "destination_id = ? AND status = 'removed'", [usb]],
      [`destination=usb-1&status=available&from=${from}`, "destination_id = ? AND status = 'available' AND created_at >= ?", [usb, new Date(from)]],
    ];
    for (const [query, where, params] of cases) {
      const want = await expected(where, params);
      expect(want.length, `${query} selects something in the fixture`).toBeGreaterThan(0);
      expect((await allPages(query)).ids, query).toEqual(want);
    }
  });

  it('searches VM names and UUIDs, notes and the beginning of backup ids', async () => {
    // VM names: "db-0005"…"db-0008" and "db-0045"… by role; "db-000" is VMs 5 to 8.
    const dbVms = [5, 6, 7, 8].map(scaleVmUuid);
    expect(scaleVmName(5)).toBe('db-0005');
    expect((await allPages('search=db-000')).ids).toEqual(await expected(`vm IN (${dbVms.map(() => '?').join(',')})`, dbVms));
    expect((await allPages(`search=${scaleVmUuid(11).slice(-6)}`)).ids).toEqual(await expected('vm = ?', [scaleVmUuid(11)]));
    const [note] = await s.catalog.query<{ notes: string }>('SELECT notes FROM backups WHERE notes IS NOT NULL ORDER BY id LIMIT 1');
    const word = note!.notes.split(' ').at(-1)!;
    const noted = await expected('notes LIKE ?', [`%${word}%`]);
    expect(noted.length).toBeGreaterThan(0);
    expect((await allPages(`search=${word}`)).ids).toEqual(noted);
    const [one] = await s.catalog.query<{ id: number; repo_backup_id: string }>('SELECT id, repo_backup_id FROM backups ORDER BY id LIMIT 1 OFFSET 500');
    expect((await allPages(`search=${one!.repo_backup_id.slice(0, 20)}`)).ids).toEqual([Number(one!.id)]);
    const night = one!.repo_backup_id.slice(0, 8);
    expect((await allPages(`search=${night}`)).ids).toEqual(await expected('repo_backup_id LIKE ?', [`${night}%`]));
    // Together with a filter, and no match at all.
    expect((await allPages('search=db-000&status=removed')).ids).toEqual(await expected(`vm IN (${dbVms.map(() => '?').join(',')}) AND status = 'removed'`, dbVms));
    expect((await get<BackupPage>('/api/backups?search=no-such-thing')).backups).toEqual([]);
  });

  it('keeps the pages still to come when newer backups arrive while someone pages', async () => {
    const before = await expected('');
    const first = await get<BackupPage>(`/api/backups?limit=${PAGE}`);
    await new DestinationsRepository(s.catalog).upsertBackups(await destinationId('nas-1'), [
      { id: '20990101T000000Z-0000000001', createdAt: new Date(NOW.getTime() + 60_000).toISOString(), group: scaleVmUuid(1), logicalBytes: 1, disks: [], source: { type: 'full', vm: { name: scaleVmName(1), uuid: scaleVmUuid(1) } } },
    ]);
    const rest: number[] = [];
    let cursor = first.nextCursor;
    while (cursor !== null) {
      const page: BackupPage = await get<BackupPage>(`/api/backups?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`);
      rest.push(...page.backups.map((b) => b.id));
      cursor = page.nextCursor;
    }
    expect([...first.backups.map((b) => b.id), ...rest]).toEqual(before);
    await new BackupsRepository(s.catalog).forget(await destinationId('nas-1'), '20990101T000000Z-0000000001');
  });

  it('refuses a cursor it did not give', async () => {
    const res = await s.api.request('GET', '/api/backups?cursor=yesterday', undefined, { token: s.token });
    expect(res.status).toBe(400);
  });

  describe('VM summaries', () => {
    /** What the VM's backups say, by a plain query. */
    const truth = async (k: number): Promise<Pick<Vm, 'backups' | 'lastBackupAt' | 'lastBackupType' | 'protectedBackups' | 'damagedBackups'>> => {
      const [row] = await s.catalog.query<{ n: number; damaged: number; protected: number }>(
        "SELECT SUM(status = 'available') AS n, SUM(status = 'damaged') AS damaged, SUM(protected) AS protected FROM backups WHERE vm = ?",
        [scaleVmUuid(k)],
      );
      const [last] = await s.catalog.query<{ created_at: Date; type: 'full' | 'incremental' }>(
        "SELECT created_at, type FROM backups WHERE vm = ? AND status = 'available' ORDER BY created_at DESC, id DESC LIMIT 1",
        [scaleVmUuid(k)],
      );
      return {
        backups: Number(row?.n ?? 0),
        lastBackupAt: last ? last.created_at.toISOString() : null,
        lastBackupType: last?.type ?? null,
        protectedBackups: Number(row?.protected ?? 0),
        damagedBackups: Number(row?.damaged ?? 0),
      };
    };
    const shown = async (k: number) => {
      const vm = await get<Vm>(`/api/vms/${scaleVmName(k)}`);
      const listed = (await get<Vm[]>('/api/vms')).find((v) => v.uuid === scaleVmUuid(k))!;
      expect(listed).toEqual(vm);
      return { backups: vm.backups, lastBackupAt: vm.lastBackupAt, lastBackupType: vm.lastBackupType, protectedBackups: vm.protectedBackups, damagedBackups: vm.damagedBackups };
    };
    const newestOf = async (k: number): Promise<Backup> => (await get<BackupPage>(`/api/backups?limit=1&vm=${scaleVmUuid(k)}&status=available`)).backups[0]!;

    it('match the backups of every VM after the fixture', async () => {
      for (let k = 1; k <= VMS; k++) expect(await shown(k), scaleVmName(k)).toEqual(await truth(k));
    });

    it('follow a backup added, protected, damaged, removed and deleted', async () => {
      const k = 5; // on nas-1
      const dest = Number((await s.catalog.query<{ destination_id: number }>('SELECT destination_id FROM backups WHERE vm = ? LIMIT 1', [scaleVmUuid(k)]))[0]!.destination_id);
      const destinations = new DestinationsRepository(s.catalog);
      const start = await truth(k);

      // Added (as a finished STORE records it).
      const repoId = '20990101T010000Z-00000000aa';
      const at = new Date(NOW.getTime() + 3_600_000).toISOString();
      await destinations.upsertBackups(dest, [{ id: repoId, createdAt: at, group: scaleVmUuid(k), logicalBytes: 5, disks: [], source: { type: 'incremental', vm: { name: scaleVmName(k), uuid: scaleVmUuid(k) } } }]);
      expect(await shown(k)).toEqual({ ...start, backups: start.backups + 1, lastBackupAt: at, lastBackupType: 'incremental' });
      const added = await newestOf(k);
      expect(added.repoBackupId).toBe(repoId);

      // Protected and unprotected through the API.
      expect((await s.api.request('PATCH', `/api/backups/${added.id}`, { protected: true }, { token: s.token })).status).toBe(200);
      expect((await shown(k)).protectedBackups).toBe(start.protectedBackups + 1);
      expect(await shown(k)).toEqual(await truth(k));
      expect((await s.api.request('PATCH', `/api/backups/${added.id}`, { protected: false }, { token: s.token })).status).toBe(200);
      expect((await shown(k)).protectedBackups).toBe(start.protectedBackups);

      // Damaged by a verify: no longer the last available backup.
      const present = new Set((await s.catalog.query<{ repo_backup_id: string }>('SELECT repo_backup_id FROM backups WHERE destination_id = ?', [dest])).map((r) => r.repo_backup_id));
      await destinations.reconcileVerify(dest, { present, damagedChunks: new Map([[repoId, 2]]), damagedManifests: new Map(), complete: false, at: new Date(at) });
      expect(await shown(k)).toEqual({ ...start, damagedBackups: start.damagedBackups + 1 });
      expect(await shown(k)).toEqual(await truth(k));

      // Removed by retention, then deleted for good.
      await destinations.markRemoved(dest, [repoId]);
      expect(await shown(k)).toEqual(start);
      await new BackupsRepository(s.catalog).forget(dest, repoId);
      expect(await shown(k)).toEqual(start);
      expect(await shown(k)).toEqual(await truth(k));
    });

    it('go with a destination removed with its backups', async () => {
      const destinations = new DestinationsRepository(s.catalog);
      const usb = await destinationId('usb-1');
      const onUsb = (await s.catalog.query<{ vm: string }>('SELECT DISTINCT vm FROM backups WHERE destination_id = ?', [usb])).map((r) => r.vm);
      expect(onUsb.length).toBeGreaterThan(0);
      await s.catalog.execute('DELETE FROM policies WHERE destination_id = ?', [usb]);
      await destinations.delete(usb);
      for (let k = 1; k <= VMS; k++) expect(await shown(k), scaleVmName(k)).toEqual(await truth(k));
      const vm = await get<Vm>(`/api/vms/${scaleVmName(2)}`);
      expect(onUsb).toContain(vm.uuid);
      expect(vm).toMatchObject({ backups: 0, lastBackupAt: null, lastBackupType: null });
    });
  });
});
