/**
 * M365_BACKUP and M365_RESTORE run by the node's TaskRunner with the params the server
 * dispatches, against the Graph emulator and a real encrypted repository: a user's OneDrive
 * with a drive that fails as a whole (a warning naming it, the other stored), a site's two
 * libraries, full then incremental, a wrong secret, and a folder restored to another user's
 * OneDrive compared by SHA-256 with what was backed up.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { M365BackupResultSchema, M365PointSourceSchema, M365RestoreResultSchema, type M365BackupResult, type M365DrivePart, type M365TenantSettings } from '../../../common/m365-tasks.js';
import { m365BackupHandler } from '../../../node-service/agent/handlers/m365-backup.handler.js';
import { m365RestoreHandler } from '../../../node-service/agent/handlers/m365-restore.handler.js';
import { Repository } from '../../../node-service/repository/index.js';
import { type Drive, GraphEmulator, type Site, type Tenant } from '../../support/graph-emulator/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';
import { backupParams, drivePart, taskRunner, tenantSettings } from './m365-task-helpers.js';

const PASSWORD = 'correct horse battery';
const ALICE = 'alice@contoso.onmicrosoft.com';
const BOB = 'bob@contoso.onmicrosoft.com';
const dirs = new TempDirs();
let emu: GraphEmulator;
let tenant: Tenant;
let settings: M365TenantSettings;
let alice: Drive;
let bob: Drive;
let finance: Site;
let repoPath: string;
let runner: ReturnType<typeof taskRunner>;
let aliceBackup: M365BackupResult;

const deps = { nodeName: 'store-1', repository: { threads: 1 }, graph: { backoffMs: 50, maxAttempts: 2 } };

beforeAll(async () => {
  emu = await GraphEmulator.start({ deltaPageSize: 4 });
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 'right secret' });
  tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice' });
  tenant.addUser({ userPrincipalName: BOB, displayName: 'Bob' });
  finance = tenant.addSite({ name: 'finance', displayName: 'Finance', libraries: ['Documents', 'Archive'] });
  alice = tenant.driveOf(ALICE);
  bob = tenant.driveOf(BOB);
  alice.seed({ 'Docs/Report.txt': 'the report', 'Docs/Sub/deep.md': '# deep', 'Фото/café ☕.txt': 'unicode', 'top.bin': { size: 300_000, seed: 'top' } });
  finance.library('Documents').seed({ 'Budget/2026.xlsx': 'numbers', 'readme.txt': 'finance' });
  finance.library('Archive').seed({ 'old/2019.txt': 'old numbers' });
  settings = tenantSettings(emu, tenant, app.clientId, 'right secret');
  const base = await dirs.make('vplus-m365-handlers-');
  repoPath = path.join(base, 'repo');
  const repo = await Repository.init(repoPath, { password: PASSWORD, kdf: TEST_KDF }, { threads: 1 });
  await repo.close();
  runner = taskRunner([m365BackupHandler(deps), m365RestoreHandler(deps)], path.join(base, 'staging'));
});

afterAll(async () => {
  await emu?.stop();
  await dirs.cleanup();
});

function siteParts(): M365DrivePart[] {
  return finance.drives.map((d) => drivePart(tenant, d.name, d.id, `library ${d.name} of site Finance`));
}

async function pointSources(pointIds: string[]): Promise<unknown[]> {
  const repo = await Repository.open(repoPath, { password: PASSWORD }, { threads: 1 });
  try {
    const points = repo.points();
    return await Promise.all(pointIds.map(async (id) => (await points.load(id)).source));
  } finally {
    await repo.close();
  }
}

async function pointCount(): Promise<number> {
  const repo = await Repository.open(repoPath, { password: PASSWORD }, { threads: 1 });
  try {
    return (await repo.points().list()).length;
  } finally {
    await repo.close();
  }
}

describe('M365_BACKUP', () => {
  it("backs up a user's OneDrive; a drive that fails as a whole is a warning naming it", async () => {
    const user = tenant.user(ALICE);
    const parts = [drivePart(tenant, 'drive', alice.id, `the OneDrive of ${ALICE}`), drivePart(tenant, 'gone', 'b!no-such-drive', 'the library that was deleted')];
    const out = await runner.outcome('M365_BACKUP', backupParams({ settings, repoPath, password: PASSWORD, runId: 'run-alice-1', subject: { kind: 'user', graphId: user.id, name: ALICE }, parts }));
    expect(out.state).toBe('FINISHED_WITH_WARNINGS');
    expect(out.warnings).toEqual([expect.stringMatching(/^the library that was deleted was not backed up: .*not found/)]);
    aliceBackup = M365BackupResultSchema.parse(out.result);
    expect(aliceBackup.points).toHaveLength(1);
    expect(aliceBackup.points[0]).toMatchObject({ part: 'drive', driveId: alice.id, kind: 'full', files: 4, folders: 4, downloadedFiles: 4, bytes: 300_000 + 10 + 6 + 7 });
    const [source] = await pointSources([aliceBackup.points[0]!.pointId]);
    expect(M365PointSourceSchema.parse(source)).toEqual({ runId: 'run-alice-1', directory: tenant.id, subject: { kind: 'user', graphId: user.id, name: ALICE }, part: 'drive', partKind: 'drive', driveId: alice.id });
    // Progress counted the bytes downloaded and said what it was doing.
    const progress = out.messages.filter((m) => m.type === 'task.progress');
    expect(progress.at(-1)).toMatchObject({ bytesDone: aliceBackup.points[0]!.downloadedBytes });
    expect(progress.some((m) => m.type === 'task.progress' && /files? downloaded/.test(m.message ?? ''))).toBe(true);
    // Once every change was listed the total is known (an ETA): all of the OneDrive's files, here.
    const withTotal = progress.filter((m) => m.type === 'task.progress' && m.bytesTotal !== null);
    expect(withTotal.at(-1)).toMatchObject({ bytesDone: aliceBackup.points[0]!.downloadedBytes, bytesTotal: aliceBackup.points[0]!.downloadedBytes });
    expect(progress.some((m) => m.type === 'task.progress' && m.bytesTotal === null && /listed so far/.test(m.message ?? ''))).toBe(true);
  });

  it("backs up a site's two libraries, then an incremental downloads only what changed", async () => {
    const params = (runId: string) => backupParams({ settings, repoPath, password: PASSWORD, runId, subject: { kind: 'site', graphId: finance.id, name: 'Finance' }, parts: siteParts() });
    const first = await runner.outcome('M365_BACKUP', params('run-finance-1'));
    expect(first).toMatchObject({ state: 'FINISHED', warnings: [] });
    const full = M365BackupResultSchema.parse(first.result);
    expect(full.points.map((p) => [p.part, p.kind, p.files])).toEqual([
      ['Documents', 'full', 2],
      ['Archive', 'full', 1],
    ]);

    finance.library('Documents').editFile('readme.txt', 'finance, v2');
    const second = await runner.outcome('M365_BACKUP', params('run-finance-2'));
    expect(second.state).toBe('FINISHED');
    const inc = M365BackupResultSchema.parse(second.result);
    expect(inc.points.map((p) => [p.part, p.kind, p.added, p.removed, p.downloadedFiles])).toEqual([
      ['Documents', 'incremental', 0, 0, 1],
      ['Archive', 'incremental', 0, 0, 0],
    ]);
    const sources = await pointSources(inc.points.map((p) => p.pointId));
    expect(sources.map((s) => M365PointSourceSchema.parse(s).runId)).toEqual(['run-finance-2', 'run-finance-2']);
  });

  it('fails with the sign-in sentence when the secret is wrong, and stores nothing', async () => {
    const wrong = { ...settings, credential: { kind: 'secret' as const, secret: 'wrong secret' } };
    const before = await pointCount();
    const out = await runner.outcome('M365_BACKUP', backupParams({ settings: wrong, repoPath, password: PASSWORD, runId: 'run-wrong', subject: { kind: 'site', graphId: finance.id, name: 'Finance' }, parts: siteParts() }));
    expect(out.state).toBe('FAILED');
    expect(out.error).toMatch(/the client secret is wrong for app .*\(on node store-1\)$/);
    expect(out.result ?? null).toBeNull();
    expect(await pointCount()).toBe(before);
  });

  it('stops when cancelled, leaving no point behind', async () => {
    const carol = tenant.addUser({ userPrincipalName: 'carol@contoso.onmicrosoft.com', displayName: 'Carol' });
    const drive = tenant.driveOf(carol.userPrincipalName);
    drive.seed({ 'a.txt': 'a', 'b.txt': 'b' });
    // Every download is answered "come back in a minute": the backup is waiting when it is cancelled.
    emu.throttle({ count: 1000, host: 'files', match: (r) => r.driveId === drive.id, retryAfterSeconds: 60 });
    const before = await pointCount();
    const parts = [drivePart(tenant, 'drive', drive.id, "Carol's OneDrive")];
    const task = runner.begin('M365_BACKUP', backupParams({ settings, repoPath, password: PASSWORD, runId: 'run-carol', subject: { kind: 'user', graphId: carol.id, name: carol.userPrincipalName }, parts }));
    await emu.traffic.waitForRequest((r) => r.host === 'files' && r.driveId === drive.id && r.throttled === true);
    runner.cancel(task.id);
    expect(await task.done).toMatchObject({ state: 'CANCELLED' });
    expect(await pointCount()).toBe(before);
  });

  it('backs up one drive once at a time: of two runs at once, the second is an incremental of the first', async () => {
    const dave = tenant.addUser({ userPrincipalName: 'dave@contoso.onmicrosoft.com', displayName: 'Dave' });
    const drive = tenant.driveOf(dave.userPrincipalName);
    drive.seed({ 'one.txt': 'one', 'Two/two.txt': 'two' });
    const params = (runId: string) => backupParams({ settings, repoPath, password: PASSWORD, runId, subject: { kind: 'user', graphId: dave.id, name: dave.userPrincipalName }, parts: [drivePart(tenant, 'drive', drive.id, "Dave's OneDrive")] });
    const both = await Promise.all([runner.outcome('M365_BACKUP', params('run-dave-a')), runner.outcome('M365_BACKUP', params('run-dave-b'))]);
    expect(both.map((o) => o.state)).toEqual(['FINISHED', 'FINISHED']);
    const points = both.map((o) => M365BackupResultSchema.parse(o.result).points[0]!);
    expect(points.map((p) => [p.kind, p.downloadedFiles]).sort()).toEqual([
      ['full', 2],
      ['incremental', 0],
    ]);
  });

  it('fails naming every drive when none could be backed up', async () => {
    const parts = [drivePart(tenant, 'x', 'b!missing-1', 'library X of site Finance')];
    const out = await runner.outcome('M365_BACKUP', backupParams({ settings, repoPath, password: PASSWORD, runId: 'run-none', subject: { kind: 'site', graphId: finance.id, name: 'Finance' }, parts }));
    expect(out.state).toBe('FAILED');
    expect(out.error).toMatch(/^no drive of Finance could be backed up on node store-1: library X of site Finance was not backed up: /);
  });
});

describe('M365_RESTORE', () => {
  const restoreParams = (over: Record<string, unknown>) => ({
    m365TenantId: 1,
    destinationId: 7,
    m365BackupId: 11,
    objectKey: aliceBackup.points[0]!.objectKey,
    pointId: aliceBackup.points[0]!.pointId,
    paths: ['/Docs'],
    target: { kind: 'user', id: 4, driveId: bob.id, label: `the OneDrive of ${BOB}` },
    folder: 'Restore-test',
    conflict: 'copy',
    tenant: settings,
    targetOwner: tenant.user(BOB).id,
    repository: { path: repoPath, password: PASSWORD },
    ...over,
  });

  it("restores a folder to another user's OneDrive, byte for byte", async () => {
    const out = await runner.outcome('M365_RESTORE', restoreParams({}));
    expect(out).toMatchObject({ state: 'FINISHED', warnings: [] });
    expect(M365RestoreResultSchema.parse(out.result)).toEqual({ restoredFiles: 2, restoredFolders: 2, restoredBytes: 16, skipped: [], failed: [], targetRoot: '/Restore-test' });
    const from = await alice.snapshot();
    const to = await bob.snapshot();
    for (const p of ['/Docs/Report.txt', '/Docs/Sub/deep.md']) {
      expect(to[`/Restore-test${p}`]).toMatchObject({ type: 'file', sha256: (from[p] as { sha256: string }).sha256 });
    }
    const progress = out.messages.filter((m) => m.type === 'task.progress');
    expect(progress.at(-1)).toMatchObject({ bytesDone: 16, bytesTotal: 16 });
  });

  it('finishes with a warning naming a file that could not be uploaded, the others restored', async () => {
    // Graph keeps refusing the upload of one file (the client gives up after its two attempts).
    const deepUpload = (r: { method: string; path: string }): boolean => r.method === 'PUT' && decodeURIComponent(r.path).includes(`/drives/${bob.id}/`) && r.path.endsWith('deep.md:/content');
    emu.throttle({ count: 2, status: 503, retryAfterSeconds: 1, match: deepUpload });
    const out = await runner.outcome('M365_RESTORE', restoreParams({ folder: 'Restore-partial' }));
    expect(out.state).toBe('FINISHED_WITH_WARNINGS');
    expect(out.warnings).toEqual([expect.stringMatching(/^\/Docs\/Sub\/deep\.md was not restored: /)]);
    expect(M365RestoreResultSchema.parse(out.result)).toMatchObject({ restoredFiles: 1, failed: [{ path: '/Docs/Sub/deep.md' }] });
    const to = await bob.snapshot();
    expect(to['/Restore-partial/Docs/Report.txt']).toMatchObject({ type: 'file' });
    expect(to['/Restore-partial/Docs/Sub/deep.md']).toBeUndefined();
  });

  it('fails, naming the files, when none could be restored', async () => {
    const out = await runner.outcome('M365_RESTORE', restoreParams({ paths: ['/Docs/Report.txt'], folder: null, target: { kind: 'user', id: 4, driveId: 'b!no-such-drive', label: 'a deleted OneDrive' } }));
    expect(out.state).toBe('FAILED');
    expect(out.error).toMatch(/^none of the 1 file could be restored to a deleted OneDrive on node store-1: /);
    expect(out.warnings).toEqual([expect.stringMatching(/^\/Docs\/Report\.txt was not restored: /)]);
    expect(M365RestoreResultSchema.parse(out.result).failed.map((f) => f.path)).toEqual(['/Docs/Report.txt']);
  });
});
