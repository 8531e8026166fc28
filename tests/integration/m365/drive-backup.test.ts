/**
 * A OneDrive backed up by the cloud agent (node-service/cloud/drive-backup) from the Graph
 * emulator into a real encrypted repository: full, then incremental downloading only what
 * changed (from the emulator's request log), renames and moves without a download, an expired
 * delta token answered by a full comparison that tombstones deleted files, a file that fails
 * as a warning naming it and stored by the next backup, and throttling. Every point's view is
 * compared with the emulator's drive by SHA-256.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupDrive, type DriveBackupResult } from '../../../node-service/cloud/drive-backup.js';
import { TenantSession } from '../../../node-service/cloud/graph/tenant-session.js';
import { openObjectStore } from '../../../node-service/cloud/metadata/index.js';
import { Repository } from '../../../node-service/repository/index.js';
import { type Drive, GraphEmulator, type Tenant } from '../../support/graph-emulator/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const MiB = 1024 * 1024;
const UPN = 'alice@contoso.onmicrosoft.com';
const dirs = new TempDirs();
let emu: GraphEmulator;
let tenant: Tenant;
let alice: Drive;
let session: TenantSession;
let repo: Repository;
let workDir: string;
let objectKey: string;

async function backup(extra: { full?: boolean } = {}): Promise<DriveBackupResult> {
  return backupDrive({ graph: session.graph, repo, objectKey, drivePath: `/drives/${alice.id}`, owner: UPN, label: `the OneDrive of ${UPN}`, workDir, packSize: 512 * 1024, ...extra });
}

/** The point's files and folders with each file's SHA-256, in the emulator's snapshot shape. */
async function pointTree(pointId: string): Promise<Record<string, string>> {
  const store = await openObjectStore(repo, objectKey, { workDir: path.join(workDir, 'read') });
  try {
    const out: Record<string, string> = {};
    const walk = async (folder: string): Promise<void> => {
      for (const item of await store.listChildren(pointId, folder)) {
        if (item.kind === 'folder') {
          out[item.path] = 'folder';
          await walk(item.path);
        } else {
          const h = createHash('sha256');
          for await (const b of store.readContent(pointId, item.id)) h.update(b);
          out[item.path] = h.digest('hex');
        }
      }
    };
    await walk('/');
    return out;
  } finally {
    await store.close();
  }
}

async function emulatorTree(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [p, e] of Object.entries(await alice.snapshot())) if (p !== '/') out[p] = e.type === 'file' ? e.sha256 : 'folder';
  return out;
}

/** Item ids the files host served since the last reset: the downloads. */
function downloadedIds(): string[] {
  return emu.traffic.requests.filter((r) => r.host === 'files' && r.method === 'GET' && (r.status ?? 0) < 300).map((r) => r.itemId ?? '?');
}

beforeAll(async () => {
  emu = await GraphEmulator.start({ deltaPageSize: 4 });
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 'right secret' });
  tenant.addUser({ userPrincipalName: UPN, displayName: 'Alice' });
  alice = tenant.driveOf(UPN);
  alice.seed({
    'Docs/Report.txt': 'the report',
    'Docs/Sub/Deep/note.md': '# deep',
    'Docs/Empty/': null,
    'Фото/café ☕.txt': 'unicode names',
    'empty.txt': '',
    'four.bin': { size: 4 * MiB, seed: 'four' },
    'twelve.bin': { size: 12 * MiB, seed: 'twelve' },
    'old.txt': 'old',
  });
  session = new TenantSession({ tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 'right secret' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem }, { backoffMs: 50 });
  const base = await dirs.make('vplus-drive-backup-');
  repo = await Repository.init(path.join(base, 'repo'), { password: 'pw', kdf: TEST_KDF }, { threads: 1 });
  workDir = path.join(base, 'work');
  objectKey = `m365:${tenant.id}:drive:${alice.id}`;
});

afterAll(async () => {
  await session?.close();
  await repo?.close();
  await emu?.stop();
  await dirs.cleanup();
});

describe('OneDrive backup', () => {
  let first: DriveBackupResult;

  it('a full backup stores every file and folder, each byte checked', async () => {
    emu.traffic.reset();
    first = await backup();
    expect(first).toMatchObject({ kind: 'full', resynced: false, warnings: [] });
    expect(first.files).toBe(7);
    expect(await pointTree(first.pointId)).toEqual(await emulatorTree());
    expect(downloadedIds().length).toBe(7);
  });

  it('an incremental downloads only what was added or edited; renames and moves are metadata', async () => {
    alice.addFile('Docs/new.txt', 'new file');
    alice.editFile('Docs/Report.txt', 'the report, v2');
    alice.renamePath('Docs/Sub', 'Sub2');
    alice.movePath('old.txt', 'Docs');
    alice.deletePath('empty.txt');
    emu.traffic.reset();
    const inc = await backup();
    expect(inc).toMatchObject({ kind: 'incremental', warnings: [], removed: 1 });
    expect(downloadedIds().sort()).toEqual([alice.mustPath('Docs/new.txt').id, alice.mustPath('Docs/Report.txt').id].sort());
    expect(await pointTree(inc.pointId)).toEqual(await emulatorTree());
    // The first point is still the drive as it was.
    expect(Object.keys(await pointTree(first.pointId))).toContain('/empty.txt');
  });

  it('an expired delta token brings a full comparison: deleted files do not come back', async () => {
    alice.deletePath('Фото');
    alice.expireDeltaTokens();
    emu.traffic.reset();
    const resync = await backup();
    expect(resync).toMatchObject({ kind: 'full', resynced: true, warnings: [] });
    const tree = await pointTree(resync.pointId);
    expect(tree).toEqual(await emulatorTree());
    expect(Object.keys(tree).some((p) => p.startsWith('/Фото'))).toBe(false);
    expect(downloadedIds()).toEqual([]); // unchanged content is never fetched again
  });

  it('a file that cannot be downloaded is a warning naming it; the next backup stores it', async () => {
    alice.editFile('Docs/new.txt', 'edited again');
    alice.addFile('Docs/other.txt', 'other');
    emu.failDownload(alice, alice.mustPath('Docs/new.txt'), { status: 500 });
    const failed = await backup();
    expect(failed.warnings).toEqual([expect.stringMatching(/^\/Docs\/new\.txt could not be backed up/)]);
    const tree = await pointTree(failed.pointId);
    expect(tree['/Docs/other.txt']).toBeDefined();
    expect(tree['/Docs/new.txt']).toBe(createHash('sha256').update('new file').digest('hex')); // kept as it was

    emu.traffic.reset();
    emu.clearDownloadFailures();
    const next = await backup();
    expect(next.warnings).toEqual([]);
    expect(downloadedIds()).toEqual([alice.mustPath('Docs/new.txt').id]);
    expect(await pointTree(next.pointId)).toEqual(await emulatorTree());
  });

  it('throttled calls wait and the backup completes', async () => {
    alice.addFile('Docs/throttled.txt', 'slow');
    emu.throttle({ count: 2, tenantId: tenant.id, retryAfterSeconds: 1 });
    const r = await backup();
    expect(r.warnings).toEqual([]);
    expect(emu.traffic.requests.filter((q) => q.throttled).length).toBe(2);
    expect(await pointTree(r.pointId)).toEqual(await emulatorTree());
  });
});
