import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupPage } from '../../../common/api/backups.js';
import type { CreatedDestination, Destination } from '../../../common/api/destinations.js';
import type { Task, TaskDetails } from '../../../common/api/tasks.js';
import { REDACT_PATHS } from '../../../electron/server/logger.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { createUser, makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

const FIRST_PASSWORD = 'first-password-1';
const NEW_PASSWORD = 'after-recovery-2';
const ELSEWHERE_PASSWORD = 'set-elsewhere-3';
const RESET_PASSWORD = 'reset-password-4';
const TEST_KDF = { N: 1024, r: 8, p: 1 };

/** Every line the server logs, at debug level, to search for secrets. */
class CapturedLog extends Writable {
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.raw.push(chunk.toString('utf8'));
    done();
  }
}

interface ApiErrorBody {
  error: string;
  message: string;
  field?: string;
}

/**
 * Using the recovery key, end to end: server, MariaDB, a real node agent with the real handlers
 * and a real repository on disk. An encrypted destination is added, removed from the catalog,
 * its password "lost", and added again with the recovery key and a new password (the backups
 * come back with it); then the password is changed behind the catalog's back and reset with
 * the key on the destination. The key and the passwords appear in no answer but the one that
 * gives the key, in no task and no log line.
 */
describe('destinations: the recovery key opens a repository whose password is lost', () => {
  let t: TestServer;
  let admin: string;
  let operator: string;
  let node: TestNode;
  const log = new CapturedLog();
  const dir = makeTempDir('dest-recovery');
  const repoPath = path.join(dir, 'vault');
  let recoveryKey = '';
  let repositoryId = '';
  let backupId = '';

  beforeAll(async () => {
    t = await startTestServer({ nodeHeartbeatSeconds: 1 }, { logger: pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, log) });
    admin = await setupAdmin(t.api);
    operator = await createUser(t.api, admin, 'olga', 'operator');
    node = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers(), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const api = <T>(method: string, p: string, body?: unknown, token = admin) => t.api.request<T>(method, p, body, { token });
  const finished = async (task: Task): Promise<TaskDetails> =>
    waitFor(`task ${task.id}`, async () => {
      const d = (await api<TaskDetails>('GET', `/api/tasks/${task.id}`)).body;
      return ['FINISHED', 'FINISHED_WITH_WARNINGS', 'FAILED', 'CANCELLED'].includes(d.state) ? d : undefined;
    });
  const keyHex = (): string => (recoveryKey.split('\n')[3] ?? '').replace(/ /g, '');

  it('an encrypted destination gives its recovery key once; a backup is stored there; then the catalog forgets it', async () => {
    const res = await api<CreatedDestination>('POST', '/api/destinations', { name: 'vault', node: 'store-1', path: repoPath, password: FIRST_PASSWORD });
    expect(res.status).toBe(201);
    recoveryKey = res.body.recoveryKey ?? '';
    expect(recoveryKey).toMatch(/^-----BEGIN VPLUS RECOVERY KEY-----\nRepository: [0-9a-f]{32}\n/);
    repositoryId = /Repository: ([0-9a-f]{32})/.exec(recoveryKey)![1]!;

    // A backup, written into the repository as a node's STORE would, and taken into the catalog.
    const repo = await Repository.open(repoPath, { password: FIRST_PASSWORD }, { threads: 1 });
    const writer = await repo.startBackup({ group: 'vm-7', source: { type: 'full', vm: { name: 'accounts' } } });
    const image = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(1024 * 1024)]);
    await writer.writeDisk('vda', image.length, Readable.from([image]));
    backupId = (await writer.commit()).id;
    await repo.close();
    expect((await finished((await api<Task>('POST', '/api/destinations/vault/import', {})).body)).state).toBe('FINISHED');
    expect((await api<BackupPage>('GET', '/api/backups?destination=vault')).body.backups.map((b) => b.repoBackupId)).toEqual([backupId]);

    expect((await api('DELETE', '/api/destinations/vault?force=true')).status).toBe(204);
    expect((await api<Destination[]>('GET', '/api/destinations')).body).toEqual([]);
  });

  it('without the password, adding it again is refused on the password field', async () => {
    const res = await api<ApiErrorBody>('POST', '/api/destinations', { name: 'vault', node: 'store-1', path: repoPath, password: 'a-guessed-password' });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('password');
    expect(res.body.message).toMatch(/password .* is wrong/);
  });

  it('refuses what is not a recovery key, a mistyped key, another repository’s key, and a key without a new password, on the field each is about', async () => {
    const add = (extra: Record<string, unknown>) => api<ApiErrorBody>('POST', '/api/destinations', { name: 'vault', node: 'store-1', path: repoPath, ...extra });

    const notAKey = await add({ recoveryKey: 'my password was hunter2', password: NEW_PASSWORD });
    expect(notAKey.status).toBe(400);
    expect(notAKey.body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'recoveryKey' });
    expect(notAKey.body.message).toMatch(/^body field "recoveryKey": not a vPlus recovery key: give the whole block, from -----BEGIN VPLUS RECOVERY KEY-----/);
    expect(notAKey.body.message).not.toContain('hunter2');

    const noPassword = await add({ recoveryKey });
    expect(noPassword.status).toBe(400);
    expect(noPassword.body).toMatchObject({ field: 'password', message: expect.stringContaining('give the new password') });

    const line = recoveryKey.split('\n')[3]!;
    const typo = recoveryKey.replace(line, `${line.slice(0, 2)}${line[2] === '0' ? '1' : '0'}${line.slice(3)}`);
    const mistyped = await add({ recoveryKey: typo, password: NEW_PASSWORD });
    expect(mistyped.status).toBe(400);
    expect(mistyped.body).toMatchObject({ error: 'RECOVERY_KEY_INVALID', field: 'recoveryKey', message: expect.stringContaining('check it for typos') });

    const otherPath = path.join(dir, 'other');
    const other = await Repository.init(otherPath, { password: 'other-password-9', kdf: TEST_KDF }, { threads: 1 });
    const otherKey = other.recoveryKey();
    await other.close();
    const foreign = await add({ recoveryKey: otherKey, password: NEW_PASSWORD });
    expect(foreign.status).toBe(400);
    expect(foreign.body).toMatchObject({ error: 'RECOVERY_KEY_INVALID', field: 'recoveryKey', message: expect.stringContaining(`belongs to repository ${other.id}, not to the one at ${repoPath} (${repositoryId})`) });

    const plainPath = path.join(dir, 'plain');
    await (await Repository.init(plainPath, {}, { threads: 1 })).close();
    const plain = await api<ApiErrorBody>('POST', '/api/destinations', { name: 'plain', node: 'store-1', path: plainPath, recoveryKey, password: NEW_PASSWORD });
    expect(plain.status).toBe(400);
    expect(plain.body).toMatchObject({ error: 'REPOSITORY_NOT_ENCRYPTED', field: 'recoveryKey', message: expect.stringContaining('not encrypted') });

    const nowhere = await api<ApiErrorBody>('POST', '/api/destinations', { name: 'nowhere', node: 'store-1', path: path.join(dir, 'missing'), recoveryKey, password: NEW_PASSWORD });
    expect(nowhere.status).toBe(400);
    expect(nowhere.body).toMatchObject({ field: 'path', message: expect.stringContaining('does not exist') });

    // None of it changed anything: the first password still opens the repository, nothing was added.
    await (await Repository.open(repoPath, { password: FIRST_PASSWORD }, { threads: 1 })).close();
    expect(fs.existsSync(path.join(dir, 'missing'))).toBe(false);
    expect((await api<Destination[]>('GET', '/api/destinations')).body).toEqual([]);
  });

  it('an operator may not use a recovery key', async () => {
    const res = await api<ApiErrorBody>('POST', '/api/destinations', { name: 'vault', node: 'store-1', path: repoPath, recoveryKey, password: NEW_PASSWORD }, operator);
    expect(res.status).toBe(403);
  });

  it('adds the repository with its recovery key and a new password; the old password opens it no more, the backup comes back', async () => {
    const res = await api<CreatedDestination>('POST', '/api/destinations', { name: 'vault', node: 'store-1', path: repoPath, recoveryKey, password: NEW_PASSWORD });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'vault', encrypted: true, status: 'ok', backups: 1 });
    // The admin holds the key: it is not handed out again.
    expect(res.body.recoveryKey).toBeUndefined();

    await expect(Repository.open(repoPath, { password: FIRST_PASSWORD })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });
    const reopened = await Repository.open(repoPath, { password: NEW_PASSWORD }, { threads: 1 });
    expect(reopened.recoveryKey()).toBe(recoveryKey);
    await reopened.close();

    // The catalog's copy is the new password: the node's tasks open the repository with it.
    expect((await finished((await api<Task>('POST', '/api/destinations/vault/import', {})).body)).state).toBe('FINISHED');
    const backups = (await api<BackupPage>('GET', '/api/backups?destination=vault')).body.backups;
    expect(backups.map((b) => [b.repoBackupId, b.vm, b.status])).toEqual([[backupId, 'vm-7', 'available']]);
    expect((await finished((await api<Task>('POST', '/api/destinations/vault/verify', {})).body)).state).toBe('FINISHED');

    const audit = (await api<{ entries: { action: string; target: string; details: unknown }[] }>('GET', '/api/audit?limit=50')).body.entries;
    const reset = audit.find((e) => e.action === 'destination.password_reset');
    expect(reset).toMatchObject({ target: 'destination:vault', details: { node: 'store-1', path: repoPath, repositoryId, adding: true } });
    expect(audit.find((e) => e.action === 'destination.create' && (e.details as { openedWithRecoveryKey?: boolean }).openedWithRecoveryKey)).toBeDefined();
  });

  it('resets the password of a destination in the catalog whose password no longer works', async () => {
    // Someone changes the password behind the catalog's back: the destination stops working.
    const elsewhere = await Repository.openWithRecoveryKey(repoPath, recoveryKey, { threads: 1 });
    await elsewhere.changePassword(ELSEWHERE_PASSWORD);
    await elsewhere.close();
    const failed = await finished((await api<Task>('POST', '/api/destinations/vault/refresh', {})).body);
    expect(failed.state).toBe('FAILED');
    expect(failed.error).toMatch(/password .* is wrong/);
    expect((await api<Destination>('GET', '/api/destinations/vault')).body.status).toBe('error');

    const asOperator = await api<ApiErrorBody>('POST', '/api/destinations/vault/reset-password', { recoveryKey, password: RESET_PASSWORD }, operator);
    expect(asOperator.status).toBe(403);
    const malformed = await api<ApiErrorBody>('POST', '/api/destinations/vault/reset-password', { recoveryKey: recoveryKey.slice(0, 60), password: RESET_PASSWORD });
    expect(malformed.status).toBe(400);
    expect(malformed.body.field).toBe('recoveryKey');
    const short = await api<ApiErrorBody>('POST', '/api/destinations/vault/reset-password', { recoveryKey, password: 'short' });
    expect(short.status).toBe(400);
    expect(short.body.field).toBe('password');

    const res = await api<Destination>('POST', '/api/destinations/vault/reset-password', { recoveryKey, password: RESET_PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'vault', status: 'ok', statusMessage: null, backups: 1 });
    await expect(Repository.open(repoPath, { password: ELSEWHERE_PASSWORD })).rejects.toMatchObject({ code: 'REPO_WRONG_PASSWORD' });
    expect((await finished((await api<Task>('POST', '/api/destinations/vault/verify', {})).body)).state).toBe('FINISHED');
    const audit = (await api<{ entries: { action: string; target: string; details: unknown }[] }>('GET', '/api/audit?limit=50')).body.entries;
    expect(audit.filter((e) => e.action === 'destination.password_reset' && e.target === 'destination:vault')).toHaveLength(2);
  });

  it('has no password to reset on an unencrypted destination', async () => {
    const plainPath = path.join(dir, 'plain');
    expect((await api('POST', '/api/destinations', { name: 'plain', node: 'store-1', path: plainPath })).status).toBe(201);
    const res = await api<ApiErrorBody>('POST', '/api/destinations/plain/reset-password', { recoveryKey, password: RESET_PASSWORD });
    expect(res.status).toBe(409);
    expect(res.body.message).toMatch(/not encrypted/);
  });

  it('kept the key and the passwords out of tasks, the audit log and the server log', async () => {
    const secrets = [keyHex(), ...recoveryKey.split('\n').slice(3, 6), NEW_PASSWORD, ELSEWHERE_PASSWORD, RESET_PASSWORD];
    const tasks = JSON.stringify((await api('GET', '/api/tasks')).body);
    const audit = JSON.stringify((await api('GET', '/api/audit?limit=200')).body);
    const logged = log.raw.join('');
    expect(logged).toContain('repository password reset with its recovery key');
    for (const secret of secrets) {
      expect(tasks).not.toContain(secret);
      expect(audit).not.toContain(secret);
      expect(logged).not.toContain(secret);
    }
  });
});
