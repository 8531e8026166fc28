/**
 * Copying backups from a directory repository to a repository on a real S3 gateway (a
 * throwaway Ceph cluster, tests/support/ceph-rgw.ts): only missing chunks are sent, an
 * interrupted copy resumes, the copy restores bit-exact, and under object lock the copy's
 * objects are locked as long as a backup's.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { GetObjectRetentionCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { S3Repository } from '../../../common/s3-location.js';
import { Repository, copyBackup, type BackupManifest } from '../../../node-service/repository/index.js';
import { forEachChunkObject } from '../../../node-service/repository/format.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { KIB, MIB, TEST_KDF, TempDirs, makeImage, memorySource, readAll, type Region } from '../../unit/repository/helpers.js';

const CHUNK = 256 * KIB;
const dirs = new TempDirs();
const repos: Repository[] = [];
let gw: CephGateway;
let s3: S3Client;

beforeAll(async () => {
  gw = await startCephGateway();
  s3 = gw.client();
}, 120_000);
afterAll(async () => {
  s3?.destroy();
  await gw?.stop();
});
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.close()));
  await dirs.cleanup();
});

const base: Region[] = [
  { kind: 'random', offset: 0, length: 2 * MIB, seed: 1 },
  { kind: 'text', offset: 3 * MIB, length: MIB, seed: 2 },
];
const changes: Region[] = [{ kind: 'random', offset: 512 * KIB, length: 256 * KIB, seed: 9 }];

async function sourceWithTwoBackups(): Promise<{ source: Repository; m1: BackupManifest; m2: BackupManifest; img1: Buffer; img2: Buffer }> {
  const source = await Repository.init(path.join(await dirs.make('vplus-copy-s3-'), 'repo'), { chunkSize: CHUNK, kdf: TEST_KDF, password: 'local pw' }, { threads: 2 });
  repos.push(source);
  const img1 = makeImage(4 * MIB, base);
  const img2 = makeImage(4 * MIB, [...base, ...changes]);
  const w1 = await source.startBackup({ group: 'vm:s3', source: { vm: 's3' } });
  await w1.writeDisk('vda', img1.length, memorySource(img1));
  const m1 = await w1.commit();
  const w2 = await source.startBackup({ group: 'vm:s3', source: { vm: 's3' } });
  await w2.writeDisk('vda', img2.length, memorySource(img2), { changes: { previous: m1, dirty: changes.map((c) => ({ offset: c.offset, length: c.length })) } });
  return { source, m1, m2: await w2.commit(), img1, img2 };
}

async function s3Target(extra: Partial<S3Repository> = {}, opts: { objectLock?: boolean } = {}): Promise<{ location: { s3: S3Repository }; bucket: string }> {
  const bucket = `c-${randomBytes(6).toString('hex')}`;
  await gw.createBucket(bucket, opts);
  return { location: { s3: gw.location(bucket, { prefix: 'offsite', ...extra }) }, bucket };
}

const distinct = (m: BackupManifest): number => {
  const ids = new Set<string>();
  for (const d of m.disks) forEachChunkObject(d, (id) => ids.add(id));
  return ids.size;
};

async function restored(repo: Repository, id: string): Promise<Buffer> {
  return readAll((await repo.openBackup(id)).readDisk('vda'));
}

describe('copying to an S3 destination (Ceph RGW)', () => {
  it('copies a full and an incremental backup (only the new chunks), resumes an aborted copy, and the copies restore bit-exact', async () => {
    const { source, m1, m2, img1, img2 } = await sourceWithTwoBackups();
    const { location } = await s3Target();
    const target = await Repository.init(location, { chunkSize: CHUNK, kdf: TEST_KDF, password: 'offsite pw' }, { threads: 2 });
    repos.push(target);

    const total = distinct(m1);
    const abort = new AbortController();
    await expect(
      copyBackup(source, target, m1.id, { signal: abort.signal, maxInFlight: 1, progressIntervalMs: 0, journal: { batch: 1 }, onProgress: (p) => p.chunksDone >= 4 && abort.abort() }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(await target.listBackups()).toEqual([]);

    const first = await copyBackup(source, target, m1.id);
    expect(first).toMatchObject({ created: true, resumed: true, chunks: total, skippedChunks: 4, copiedChunks: total - 4, readChunks: total - 4 });
    const second = await copyBackup(source, target, m2.id);
    expect(second).toMatchObject({ created: true, copiedChunks: 1, readChunks: 1, skippedChunks: distinct(m2) - 1 });
    expect(await copyBackup(source, target, m2.id)).toMatchObject({ created: false, copiedChunks: 0 });

    // From the bucket alone, with the target's password.
    const reopened = await Repository.open(location, { password: 'offsite pw' }, { threads: 2 });
    repos.push(reopened);
    expect((await reopened.listBackups()).map((b) => b.id)).toEqual([m1.id, m2.id]);
    expect((await restored(reopened, m1.id)).equals(img1)).toBe(true);
    expect((await restored(reopened, m2.id)).equals(img2)).toBe(true);
    expect((await reopened.verify()).ok).toBe(true);
  }, 120_000);

  it('under object lock every object a copy needs is locked at least as long as the copy', async () => {
    const { source, m1, m2 } = await sourceWithTwoBackups();
    const { location, bucket } = await s3Target({ lock: { mode: 'governance', days: 1 } }, { objectLock: true });
    const target = await Repository.init(location, { chunkSize: CHUNK, kdf: TEST_KDF, password: 'offsite pw' }, { threads: 2 });
    repos.push(target);
    await copyBackup(source, target, m1.id);
    await copyBackup(source, target, m2.id);
    const until = async (key: string): Promise<number> => {
      const r = await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key }));
      return r.Retention?.RetainUntilDate ? r.Retention.RetainUntilDate.getTime() : 0;
    };
    const manifestUntil = await until(`offsite/backups/${m2.id}.manifest`);
    expect(manifestUntil).toBeGreaterThanOrEqual(Date.now() + 86_400_000);
    const copy = await target.loadManifest(m2.id);
    const ids = new Set<string>();
    for (const d of copy.disks) forEachChunkObject(d, (id) => ids.add(id));
    for (const id of ids) expect(await until(`offsite/chunks/${id.slice(0, 2)}/${id}`)).toBeGreaterThanOrEqual(manifestUntil);
    await expect(target.deleteBackup(m2.id)).rejects.toMatchObject({ message: expect.stringContaining(m2.id) });
  }, 120_000);
});
