import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { CreatedDestination, Destination, S3CheckAnswer } from '../../../common/api/destinations.js';
import type { ApiError } from '../../../common/api/errors.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { startCephGateway, type CephGateway } from '../../support/ceph-rgw.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

/**
 * S3 destinations against a real server (MariaDB), a real node and the real Ceph gateway:
 * the API refuses bad places naming the field, Check and add say what is wrong (wrong secret,
 * missing bucket) under the right field, an S3 destination is added encrypted (recovery key
 * through the node call with the bucket), backups written there are re-imported and verified
 * by the node's tasks, keys are rotated only when they work, and the secret key is never in an
 * answer, the audit log, a task or the server's log.
 */
describe('S3-compatible destinations', () => {
  let gw: CephGateway;
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  const serverLog: string[] = [];
  const bucket = `s3dest-${randomBytes(4).toString('hex')}`;
  const PASSWORD = 'repo-password-1';

  beforeAll(async () => {
    gw = await startCephGateway();
    await gw.createBucket(bucket);
    t = await startTestServer({ nodeHeartbeatSeconds: 1 }, { logger: pino({ level: 'debug' }, { write: (line: string) => void serverLog.push(line) }) });
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 's3-node', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    await gw?.stop();
  });

  const api = <T>(method: string, p: string, body?: unknown) => t.api.request<T>(method, p, body, { token: admin });
  const s3 = (extra: Record<string, unknown> = {}) => ({ endpoint: gw.endpoint, bucket, prefix: 'office/vplus', forcePathStyle: true, accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey, ...extra });
  const finished = async (task: Task): Promise<TaskDetails> =>
    waitFor(`task ${task.id}`, async () => {
      const d = (await api<TaskDetails>('GET', `/api/tasks/${task.id}`)).body;
      return ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'].includes(d.state) ? d : undefined;
    });

  it('refuses a bad place before any node is asked, naming the field', async () => {
    const badBucket = await api<ApiError>('POST', '/api/destinations', { name: 'bad', node: 's3-node', s3: s3({ bucket: 'Bad_Bucket' }) });
    expect(badBucket.status).toBe(400);
    expect(badBucket.body).toMatchObject({ error: 'VALIDATION_FAILED', field: 's3.bucket' });
    expect(badBucket.body.message).toMatch(/bucket must be 3-63 characters/);
    const noSecret = await api<ApiError>('POST', '/api/destinations', { name: 'bad', node: 's3-node', s3: s3({ secretAccessKey: '' }) });
    expect(noSecret.body).toMatchObject({ field: 's3.secretAccessKey' });
    const badLock = await api<ApiError>('POST', '/api/destinations', { name: 'bad', node: 's3-node', s3: s3({ lock: { mode: 'governance', days: 0 } }) });
    expect(badLock.body).toMatchObject({ field: 's3.lock.days' });
    const both = await api<ApiError>('POST', '/api/destinations', { name: 'bad', node: 's3-node', path: '/tmp/x', s3: s3() });
    expect(both.status).toBe(400);
    expect(both.body.message).toMatch(/give either a path .* or s3/);
    expect((await api<Destination[]>('GET', '/api/destinations')).body).toEqual([]);
  });

  it('Check and add say what is wrong under the right field: a wrong secret, a missing bucket', async () => {
    const wrongSecret = await api<ApiError>('POST', '/api/destinations/check-s3', { node: 's3-node', s3: s3({ secretAccessKey: 'not-the-secret' }) });
    expect(wrongSecret.status).toBe(400);
    expect(wrongSecret.body).toMatchObject({ error: 'DESTINATION_CHECK_FAILED', field: 's3.secretAccessKey' });
    expect(wrongSecret.body.message).toMatch(/secret key does not match the access key/);

    const missing = await api<ApiError>('POST', '/api/destinations', { name: 'offsite', node: 's3-node', s3: s3({ bucket: 'no-such-bucket-here' }) });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: 'DESTINATION_CHECK_FAILED', field: 's3.bucket' });
    expect(missing.body.message).toMatch(/no-such-bucket-here does not exist/);
    // A refused destination leaves nothing: no row, and the check's failure is in its task.
    expect((await api<Destination[]>('GET', '/api/destinations')).body).toEqual([]);

    const empty = await api<S3CheckAnswer>('POST', '/api/destinations/check-s3', { node: 's3-node', s3: s3() });
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ repository: 'empty', encrypted: null });
  });

  let created: CreatedDestination;
  it('adds an encrypted S3 destination: the place is shown, the secret never', async () => {
    const res = await api<CreatedDestination>('POST', '/api/destinations', { name: 'offsite', node: 's3-node', s3: s3(), password: PASSWORD });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    created = res.body;
    expect(created).toMatchObject({
      kind: 's3',
      path: `s3://${bucket}/office/vplus at ${gw.endpoint}`,
      s3: { endpoint: gw.endpoint, bucket, prefix: 'office/vplus', forcePathStyle: true, accessKeyId: gw.accessKeyId, customCa: false },
      encrypted: true,
      status: 'ok',
      freeBytes: null,
      totalBytes: null,
    });
    // Asked of the node with the bucket's location (node call), shown this once.
    expect(created.recoveryKey).toMatch(/BEGIN VPLUS RECOVERY KEY/);
    expect(JSON.stringify(res.body)).not.toContain(gw.secretAccessKey);
    // The repository is in the bucket, under the prefix.
    const repo = await Repository.open({ s3: gw.location(bucket, { prefix: 'office/vplus' }) }, { password: PASSWORD });
    expect(repo.encrypted).toBe(true);
    await repo.close();

    const again = await api<ApiError>('POST', '/api/destinations', { name: 'offsite-2', node: 's3-node', s3: s3() });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ field: 's3.prefix' });
    const found = await api<S3CheckAnswer>('POST', '/api/destinations/check-s3', { node: 's3-node', s3: s3(), password: PASSWORD });
    expect(found.body).toMatchObject({ repository: 'found', encrypted: true, backups: 0 });
  });

  it("runs the node's tasks on the bucket: re-import finds backups written there, verify reads them", async () => {
    const repo = await Repository.open({ s3: gw.location(bucket, { prefix: 'office/vplus' }) }, { password: PASSWORD });
    const ids: string[] = [];
    for (const type of ['full', 'incremental']) {
      const w = await repo.startBackup({ group: 'vm-s3', source: { type, vm: { name: 'web' } } });
      const image = randomBytes(2 * 1048576);
      await w.writeDisk('vda', image.length, Readable.from([image]));
      ids.push((await w.commit()).id);
    }
    await repo.close();
    const imported = await finished((await api<Task>('POST', '/api/destinations/offsite/import', {})).body);
    expect(imported.state, imported.error ?? '').toBe('FINISHED');
    const backups = (await api<BackupPage>('GET', '/api/backups')).body.backups;
    expect(backups.map((b) => b.repoBackupId).sort()).toEqual([...ids].sort());
    const verify = await finished((await api<Task>('POST', '/api/destinations/offsite/verify', {})).body);
    expect(verify.state, verify.error ?? '').toBe('FINISHED');
    expect(verify.result).toMatchObject({ problems: [], backups: expect.arrayContaining(ids) });
    const refresh = await finished((await api<Task>('POST', '/api/destinations/offsite/refresh', {})).body);
    expect(refresh.state, refresh.error ?? '').toBe('FINISHED');
    expect((await api<Destination>('GET', '/api/destinations/offsite')).body).toMatchObject({ status: 'ok', backups: 2, freeBytes: null });
    // The secret went to the node with each task, and was kept in none.
    for (const task of [imported, verify, refresh]) expect(JSON.stringify(task)).not.toContain(gw.secretAccessKey);
  });

  it('rotates the keys only when the new ones work', async () => {
    const wrong = await api<ApiError>('PUT', '/api/destinations/offsite/s3-credentials', { accessKeyId: gw.accessKeyId, secretAccessKey: 'a-wrong-secret' });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ field: 's3.secretAccessKey' });
    expect(wrong.body.message).toMatch(/the old keys are kept/);
    const refresh = await finished((await api<Task>('POST', '/api/destinations/offsite/refresh', {})).body);
    expect(refresh.state, refresh.error ?? '').toBe('FINISHED');
    const same = await api<Destination>('PUT', '/api/destinations/offsite/s3-credentials', { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey });
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    const dir = await api<ApiError>('POST', '/api/destinations', { name: 'plain', node: 's3-node', path: '/' });
    expect(dir.status).toBe(400);
  });

  it('keeps the secret key out of the audit log and the server log', async () => {
    const audit = await api<{ entries: { action: string; details: unknown }[] }>('GET', '/api/audit?action=destination');
    expect(audit.body.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['destination.create', 'destination.s3_credentials']));
    expect(JSON.stringify(audit.body)).not.toContain(gw.secretAccessKey);
    expect(serverLog.length).toBeGreaterThan(0);
    expect(serverLog.join('\n')).not.toContain(gw.secretAccessKey);
    expect(serverLog.join('\n')).not.toContain('a-wrong-secret');
  });
});
