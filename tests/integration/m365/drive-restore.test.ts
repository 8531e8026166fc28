/**
 * Restore from a OneDrive backup point (node-service/cloud/drive-restore) to the Graph
 * emulator: a file, a folder and the whole drive, to the same user and another, into a new
 * Restore-<date> folder or the original places, each conflict mode, times of modification
 * kept, large files through upload sessions without the bearer token; compared by SHA-256.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupDrive } from '../../../node-service/cloud/drive-backup.js';
import { m365RestoreFolderName as restoreFolderName } from '../../../common/m365-tasks.js';
import { restoreDrive, type DriveRestoreOptions } from '../../../node-service/cloud/drive-restore.js';
import { TenantSession } from '../../../node-service/cloud/graph/tenant-session.js';
import { Repository } from '../../../node-service/repository/index.js';
import { type Drive, GraphEmulator } from '../../support/graph-emulator/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const MiB = 1024 * 1024;
const dirs = new TempDirs();
const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
let emu: GraphEmulator;
let alice: Drive;
let bob: Drive;
let session: TenantSession;
let repo: Repository;
let workDir: string;
let objectKey: string;
let pointId: string;
let original: Awaited<ReturnType<Drive['snapshot']>>;

function restore(over: Partial<DriveRestoreOptions> & Pick<DriveRestoreOptions, 'paths'>): ReturnType<typeof restoreDrive> {
  return restoreDrive({
    graph: session.graph,
    repo,
    objectKey,
    pointId,
    workDir: path.join(workDir, 'restore'),
    target: { drivePath: `/drives/${alice.id}`, owner: 'alice@contoso.onmicrosoft.com', label: "alice's OneDrive" },
    folder: 'Restore-test',
    conflict: 'copy',
    ...over,
  });
}

/** A drive's files under a folder, relative to it, with their SHA-256. */
async function filesUnder(drive: Drive, root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [p, e] of Object.entries(await drive.snapshot())) if (e.type === 'file' && p.startsWith(`${root}/`)) out[p.slice(root.length)] = e.sha256;
  return out;
}

beforeAll(async () => {
  emu = await GraphEmulator.start();
  const tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 's' });
  tenant.addUser({ userPrincipalName: 'alice@contoso.onmicrosoft.com' });
  tenant.addUser({ userPrincipalName: 'bob@contoso.onmicrosoft.com' });
  alice = tenant.driveOf('alice@contoso.onmicrosoft.com');
  bob = tenant.driveOf('bob@contoso.onmicrosoft.com');
  alice.seed({
    'Docs/Report.txt': { content: 'the report', lastModified: new Date('2021-05-06T07:08:09Z') },
    'Docs/Sub/deep.md': '# deep',
    'Фото/café ☕.txt': 'unicode',
    'empty.txt': '',
    'twelve.bin': { size: 12 * MiB, seed: 'twelve' },
  });
  original = await alice.snapshot();
  session = new TenantSession({ tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 's' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem }, { backoffMs: 50 });
  const base = await dirs.make('vplus-drive-restore-');
  repo = await Repository.init(path.join(base, 'repo'), { password: 'pw', kdf: TEST_KDF }, { threads: 1 });
  workDir = path.join(base, 'work');
  objectKey = `m365:${tenant.id}:drive:${alice.id}`;
  const point = await backupDrive({ graph: session.graph, repo, objectKey, drivePath: `/drives/${alice.id}`, owner: 'alice@contoso.onmicrosoft.com', label: 'alice', workDir });
  pointId = point.pointId;
});

afterAll(async () => {
  await session?.close();
  await repo?.close();
  await emu?.stop();
  await dirs.cleanup();
});

describe('OneDrive restore', () => {
  it('names the new folder by date', () => {
    expect(restoreFolderName(new Date('2026-12-07T03:15:42Z'))).toBe('Restore-2026-12-07 0315');
  });

  it('one file into a new folder, keeping its time of modification', async () => {
    const r = await restore({ paths: ['/Docs/Report.txt'] });
    expect(r).toMatchObject({ restoredFiles: 1, failed: [], skipped: [] });
    const snap = await alice.snapshot();
    const restored = snap['/Restore-test/Docs/Report.txt'];
    expect(restored).toMatchObject({ type: 'file', sha256: sha('the report') });
    expect(restored?.type === 'file' && new Date(restored.lastModified).toISOString()).toBe('2021-05-06T07:08:09.000Z');
  });

  it('a folder and the whole drive to another user; the large file through an upload session without the token', async () => {
    emu.traffic.reset();
    const r = await restore({ paths: ['/'], target: { drivePath: `/drives/${bob.id}`, owner: 'bob@contoso.onmicrosoft.com', label: "bob's OneDrive" }, folder: 'From Alice' });
    expect(r.failed).toEqual([]);
    expect(r.restoredFiles).toBe(5);
    const expected: Record<string, string> = {};
    for (const [p, e] of Object.entries(original)) if (e.type === 'file') expected[p] = e.sha256;
    expect(await filesUnder(bob, '/From Alice')).toEqual(expected);
    const uploads = emu.traffic.requests.filter((q) => q.host === 'files' && q.method === 'PUT');
    expect(uploads.length).toBeGreaterThanOrEqual(2); // 12 MiB in 10 MiB fragments
    expect(uploads.filter((q) => q.authorizationSent)).toEqual([]);
    // The times of the simply uploaded files were set in one $batch, not a PATCH each.
    const graph = emu.traffic.requests.filter((q) => q.host === 'graph' && q.batchOf === undefined);
    expect(graph.filter((q) => q.method === 'PATCH')).toEqual([]);
    expect(graph.filter((q) => q.path.endsWith('/$batch'))).toHaveLength(1);
    expect(emu.traffic.requests.filter((q) => q.batchOf !== undefined && q.method === 'PATCH')).toHaveLength(4);
  });

  it('to the original places: skip leaves what is there, copy keeps both, replace overwrites', async () => {
    alice.editFile('Docs/Report.txt', 'edited after the backup');
    const skipped = await restore({ paths: ['/Docs/Report.txt'], folder: null, conflict: 'skip' });
    expect(skipped.skipped).toEqual([{ path: '/Docs/Report.txt', reason: expect.stringMatching(/exists/) }]);
    expect((await alice.snapshot())['/Docs/Report.txt']).toMatchObject({ sha256: sha('edited after the backup') });

    const copied = await restore({ paths: ['/Docs/Report.txt'], folder: null, conflict: 'copy' });
    expect(copied.restoredFiles).toBe(1);
    const snap = await alice.snapshot();
    expect(snap['/Docs/Report.txt']).toMatchObject({ sha256: sha('edited after the backup') });
    expect(Object.entries(snap).filter(([p, e]) => p.startsWith('/Docs/Report') && e.type === 'file' && e.sha256 === sha('the report'))).toHaveLength(1);

    const replaced = await restore({ paths: ['/Docs/Report.txt'], folder: null, conflict: 'replace' });
    expect(replaced.restoredFiles).toBe(1);
    expect((await alice.snapshot())['/Docs/Report.txt']).toMatchObject({ sha256: sha('the report') });
  });

  it('a deleted folder comes back where it was', async () => {
    alice.deletePath('Фото');
    const r = await restore({ paths: ['/Фото'], folder: null, conflict: 'skip' });
    expect(r).toMatchObject({ restoredFiles: 1, skipped: [], failed: [] });
    expect((await alice.snapshot())['/Фото/café ☕.txt']).toMatchObject({ sha256: sha('unicode') });
  });
});
