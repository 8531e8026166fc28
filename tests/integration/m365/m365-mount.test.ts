/**
 * A Microsoft 365 backup browsed as a mount: M365_BACKUP stores a OneDrive from the Graph
 * emulator into an encrypted repository, MOUNT (params.m365) opens it on the node, and the
 * server's relay (NodeRelay, wired to NodeMounts in memory) lists, stats, searches, reads with
 * a Range and zips it; FILE_RESTORE copies a folder to a directory. Everything is compared
 * with the emulator's drive by SHA-256; paths that climb out of the drive are refused.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowseListing, BrowseSearchResult } from '../../../common/api/mounts.js';
import { M365BackupResultSchema } from '../../../common/m365-tasks.js';
import { FileRestoreResultSchema, MountResultSchema } from '../../../common/mount-tasks.js';
import type { NodeToServer } from '../../../common/node-protocol.js';
import { NodeRelay } from '../../../electron/server/nodes/node-relay.js';
import { m365BackupHandler } from '../../../node-service/agent/handlers/m365-backup.handler.js';
import { cleanupStaleMounts, m365MountsDir, mountHandlers } from '../../../node-service/agent/handlers/mount.handler.js';
import { NodeMounts } from '../../../node-service/agent/mounts/node-mounts.js';
import { Repository } from '../../../node-service/repository/index.js';
import { type Drive, GraphEmulator, type SnapshotEntry, type Tenant } from '../../support/graph-emulator/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';
import { backupParams, drivePart, taskRunner, tenantSettings, type Finished } from './m365-task-helpers.js';

const run = promisify(execFile);
const PASSWORD = 'correct horse battery';
const ALICE = 'alice@contoso.onmicrosoft.com';
const MOUNT_ID = 41;
const NOTES_TIME = new Date('2021-05-06T07:08:09Z');
const dirs = new TempDirs();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
let emu: GraphEmulator;
let tenant: Tenant;
let alice: Drive;
let original: Record<string, SnapshotEntry>;
let base: string;
let mounts: NodeMounts;
let relay: NodeRelay;
let runner: ReturnType<typeof taskRunner>;
let mountTask: Promise<Finished>;
let repoPath: string;
let point: { objectKey: string; pointId: string };
/** Told each mount.ready the node sends. */
let onReady: (r: Extract<NodeToServer, { type: 'mount.ready' }>) => void = () => undefined;

const fileSha = (p: string): string => (original[p] as Extract<SnapshotEntry, { type: 'file' }>).sha256;

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of body) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

/** NodeMounts answering the server's relay in memory, as the node's connection does. */
function wire(): { mounts: NodeMounts; relay: NodeRelay } {
  const m = new NodeMounts(pino({ level: 'silent' }));
  const r = new NodeRelay((_node, msg) => {
    queueMicrotask(() => {
      if (msg.type === 'mount.call') void m.call(msg.callId, msg.mountId, msg.op, msg.args);
      else if (msg.type === 'mount.stream') void m.stream(msg.callId, msg.mountId, msg.op, msg.args, msg.credit);
      else if (msg.type === 'stream.credit') m.credit(msg.callId, msg.bytes);
      else if (msg.type === 'stream.cancel') m.cancel(msg.callId);
    });
    return true;
  });
  m.connect(
    (msg) => {
      if (msg.type === 'mount.ready') onReady(msg);
      else r.onMessage(1, msg);
      return true;
    },
    (frame) => (r.onFrame(1, frame), true),
  );
  return { mounts: m, relay: r };
}

beforeAll(async () => {
  emu = await GraphEmulator.start();
  tenant = emu.addTenant({ domain: 'contoso.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 's' });
  const user = tenant.addUser({ userPrincipalName: ALICE, displayName: 'Alice' });
  alice = tenant.driveOf(ALICE);
  alice.seed({
    'Docs/Report.txt': 'the report',
    'Docs/notes.md': { content: '# notes', lastModified: NOTES_TIME },
    'Docs/Sub/deep.md': '# deep',
    'Фото/café ☕.txt': 'unicode names',
    'big.bin': { size: 700_000, seed: 'big' },
    'empty.txt': '',
  });
  original = await alice.snapshot();
  base = await dirs.make('vplus-m365-mount-');
  repoPath = path.join(base, 'repo');
  await (await Repository.init(repoPath, { password: PASSWORD, kdf: TEST_KDF }, { threads: 1 })).close();
  ({ mounts, relay } = wire());
  const deps = { nodeName: 'store-1', repository: { threads: 1 } };
  const handlers = [
    m365BackupHandler({ ...deps, packSize: 256 * 1024 }),
    ...mountHandlers({ ...deps, mounts, runtimeKey: 'test', iscsi: () => { throw new Error('no iSCSI in this test'); } }),
  ];
  runner = taskRunner(handlers, path.join(base, 'staging'));
  const settings = tenantSettings(emu, tenant, app.clientId, 's');
  const parts = [drivePart(tenant, 'drive', alice.id, `the OneDrive of ${ALICE}`)];
  const backup = await runner.outcome('M365_BACKUP', backupParams({ settings, repoPath, password: PASSWORD, runId: 'run-1', subject: { kind: 'user', graphId: user.id, name: ALICE }, parts }));
  expect(backup.state).toBe('FINISHED');
  point = M365BackupResultSchema.parse(backup.result).points[0]!;
  const opened = new Promise<Extract<NodeToServer, { type: 'mount.ready' }>>((resolve) => (onReady = resolve));
  mountTask = runner.outcome('MOUNT', {
    mountId: MOUNT_ID,
    destinationId: 7,
    backupId: 'run-1',
    m365: { parts: [{ name: 'drive', objectKey: point.objectKey, pointId: point.pointId }] },
    overlay: false,
    idleSeconds: 3600,
    repository: { path: repoPath, password: PASSWORD },
  });
  const ready = await Promise.race([opened, mountTask.then((f) => Promise.reject(new Error(`the mount ended: ${f.error ?? f.state}`)))]);
  expect(ready.filesystems).toEqual([{ name: 'drive', disk: point.objectKey, kind: 'm365-drive', type: 'onedrive', size: 10 + 7 + 6 + 13 + 700_000, readable: true }]);
});

afterAll(async () => {
  await mounts?.closeAll(5000);
  await emu?.stop();
  await dirs.cleanup();
});

const call = <T>(op: 'list' | 'stat' | 'search' | 'close', args: Record<string, unknown>): Promise<T> => relay.call(1, MOUNT_ID, op, args) as Promise<T>;

describe('a Microsoft 365 backup as a mount', () => {
  it('lists folders a page at a time, sorted by name, size or time', async () => {
    const root = await call<BrowseListing>('list', { path: '', offset: 0, limit: 10 });
    expect(root.entries.map((e) => [e.name, e.type])).toEqual([['drive', 'dir']]);
    const top = await call<BrowseListing>('list', { path: 'drive', offset: 0, limit: 10, sort: 'name', order: 'asc' });
    expect(top.entries.map((e) => [e.name, e.type, e.size, e.mode])).toEqual([
      ['Docs', 'dir', 0, 0o755],
      ['big.bin', 'file', 700_000, 0o644],
      ['empty.txt', 'file', 0, 0o644],
      ['Фото', 'dir', 0, 0o755],
    ]);
    expect(top).toMatchObject({ path: 'drive', total: 4, truncated: false });
    const bySize = await call<BrowseListing>('list', { path: 'drive/', offset: 0, limit: 1, sort: 'size', order: 'desc' });
    expect(bySize.entries.map((e) => e.name)).toEqual(['big.bin']);
    const page2 = await call<BrowseListing>('list', { path: '/drive/Docs', offset: 1, limit: 1, sort: 'name', order: 'asc' });
    // By name is by code unit, as on a mounted filesystem: 'Report.txt', 'Sub', 'notes.md'.
    expect(page2).toMatchObject({ path: 'drive/Docs', total: 3, entries: [{ name: 'Sub' }] });
    const byTime = await call<BrowseListing>('list', { path: 'drive/Docs', offset: 0, limit: 3, sort: 'mtime', order: 'asc' });
    expect(byTime.entries[0]).toMatchObject({ name: 'notes.md', mtime: NOTES_TIME.toISOString() });
  });

  it('answers stat and search with paths from the mount root', async () => {
    expect(await call('stat', { path: 'drive/Docs/notes.md' })).toEqual({ path: 'drive/Docs/notes.md', name: 'notes.md', type: 'file', size: 7, mtime: NOTES_TIME.toISOString(), mode: 0o644, uid: 0, gid: 0 });
    const md = await call<BrowseSearchResult>('search', { path: 'drive', pattern: '*.MD', limit: 10 });
    expect(md.hits.map((h) => h.path).sort()).toEqual(['drive/Docs/Sub/deep.md', 'drive/Docs/notes.md']);
    const under = await call<BrowseSearchResult>('search', { path: 'drive/Docs/Sub', pattern: '*.md', limit: 10 });
    expect(under.hits.map((h) => h.path)).toEqual(['drive/Docs/Sub/deep.md']);
    const everywhere = await call<BrowseSearchResult>('search', { path: '', pattern: 'café', limit: 10 });
    expect(everywhere.hits.map((h) => [h.path, h.size])).toEqual([['drive/Фото/café ☕.txt', 13]]);
  });

  it('reads a file whole and by range, byte for byte', async () => {
    const whole = await relay.stream(1, MOUNT_ID, 'read', { path: 'drive/big.bin' });
    expect(whole.head).toMatchObject({ size: 700_000, start: 0, end: 699_999 });
    const all = await readAll(whole.body);
    expect(sha(all)).toBe(fileSha('/big.bin'));
    const part = await relay.stream(1, MOUNT_ID, 'read', { path: 'drive/big.bin', start: 300_001, end: 450_000 });
    expect(part.head).toMatchObject({ size: 700_000, start: 300_001, end: 450_000 });
    expect((await readAll(part.body)).equals(all.subarray(300_001, 450_001))).toBe(true);
    const empty = await relay.stream(1, MOUNT_ID, 'read', { path: 'drive/empty.txt' });
    expect((await readAll(empty.body)).length).toBe(0);
    await expect(relay.stream(1, MOUNT_ID, 'read', { path: 'drive/big.bin', start: 700_000 })).rejects.toMatchObject({ code: 'INVALID_RANGE' });
    await expect(relay.stream(1, MOUNT_ID, 'read', { path: 'drive/Docs' })).rejects.toMatchObject({ code: 'NOT_A_FILE' });
  });

  it('zips a selection that unzip reads back as the drive had it', async () => {
    const { body } = await relay.stream(1, MOUNT_ID, 'zip', { paths: ['drive/Docs', 'drive/Фото/café ☕.txt'] });
    const file = path.join(base, 'sel.zip');
    await pipeline(body, createWriteStream(file));
    const names = (await run('unzip', ['-Z1', file])).stdout.trim().split('\n').sort();
    expect(names).toEqual(['Docs/', 'Docs/Report.txt', 'Docs/Sub/', 'Docs/Sub/deep.md', 'Docs/notes.md', 'Фото/café ☕.txt']);
    const out = path.join(base, 'unzipped');
    await run('unzip', ['-q', file, '-d', out]);
    for (const p of ['Docs/Report.txt', 'Docs/Sub/deep.md', 'Docs/notes.md', 'Фото/café ☕.txt']) expect(sha(await readFile(path.join(out, p)))).toBe(fileSha(`/${p}`));
  });

  it('refuses paths that climb out of the drive, and unknown ones', async () => {
    await expect(call('list', { path: 'drive/../x' })).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(call('stat', { path: 'drive/Docs/../../..' })).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(relay.stream(1, MOUNT_ID, 'read', { path: 'drive/../../etc/passwd' })).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(relay.stream(1, MOUNT_ID, 'zip', { paths: ['drive/Docs', 'drive/../..'] })).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    // '..' that stays inside is resolved, as on a mounted filesystem.
    expect(await call('stat', { path: 'drive/Docs/../big.bin' })).toMatchObject({ path: 'drive/big.bin', size: 700_000 });
    await expect(call('stat', { path: 'drive/nope.txt' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('FILE_RESTORE copies a folder of it to a directory on the node', async () => {
    const directory = path.join(base, 'restored');
    const out = await runner.outcome('FILE_RESTORE', { mountId: MOUNT_ID, paths: ['drive/Docs'], directory, overwrite: false });
    expect(out.state).toBe('FINISHED');
    expect(FileRestoreResultSchema.parse(out.result)).toEqual({ directory, entries: 5, bytes: 23, skipped: [] });
    for (const p of ['Docs/Report.txt', 'Docs/Sub/deep.md', 'Docs/notes.md']) expect(sha(await readFile(path.join(directory, p)))).toBe(fileSha(`/${p}`));
    const again = await runner.outcome('FILE_RESTORE', { mountId: MOUNT_ID, paths: ['drive/Docs'], directory, overwrite: false });
    expect(again).toMatchObject({ state: 'FAILED', error: expect.stringMatching(/already exists.*restore with overwrite/) as unknown });
  });

  it('shows a drive whose point is gone as not readable, and serves the others', async () => {
    const readyAgain = new Promise<Extract<NodeToServer, { type: 'mount.ready' }>>((resolve) => (onReady = resolve));
    const task = runner.outcome('MOUNT', {
      mountId: MOUNT_ID + 1,
      destinationId: 7,
      backupId: 'run-1',
      m365: { parts: [{ name: 'drive', objectKey: point.objectKey, pointId: point.pointId }, { name: 'Archive', objectKey: 'm365:t:drive:gone', pointId: 'no-such-point' }] },
      overlay: false,
      idleSeconds: 3600,
      repository: { path: repoPath, password: PASSWORD },
    });
    const ready = await readyAgain;
    expect(ready.filesystems.map((f) => [f.name, f.readable])).toEqual([
      ['drive', true],
      ['Archive', false],
    ]);
    expect(ready.filesystems[1]?.reason).toMatch(/no-such-point .*not on the destination/);
    await expect(relay.call(1, MOUNT_ID + 1, 'list', { path: 'Archive' })).rejects.toMatchObject({ code: 'NOT_READABLE' });
    expect(await relay.call(1, MOUNT_ID + 1, 'stat', { path: 'drive/big.bin' })).toMatchObject({ size: 700_000 });
    await relay.call(1, MOUNT_ID + 1, 'close', {});
    expect(await task).toMatchObject({ state: 'FINISHED' });
  });

  it('closes: the task ends with the drives it served, its working copies gone', async () => {
    await call('close', {});
    const done = await mountTask;
    expect(done.state).toBe('FINISHED');
    expect(MountResultSchema.parse(done.result)).toMatchObject({ closedBy: 'user', filesystems: [{ name: 'drive', kind: 'm365-drive', readable: true }] });
    expect(existsSync(path.join(base, 'staging', 'm365-mounts-test', String(MOUNT_ID)))).toBe(false);
    await expect(call('list', { path: 'drive' })).rejects.toMatchObject({ code: 'MOUNT_NOT_OPEN' });
  });

  it("removes at the node's start the working copies a killed node left", async () => {
    const staging = path.join(base, 'staging-killed');
    const left = path.join(m365MountsDir(staging, 'test'), '9', 'repo-id');
    await mkdir(left, { recursive: true });
    await writeFile(path.join(left, 'object.sqlite'), 'names in clear');
    await cleanupStaleMounts(staging, 'test', pino({ level: 'silent' }));
    expect(existsSync(m365MountsDir(staging, 'test'))).toBe(false);
  });
});
