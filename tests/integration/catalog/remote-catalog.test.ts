import fs from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { ManagedMariaDb } from '../../../electron/server/db/managed-mariadb.js';
import { ADMIN, makeTempDir, setupAdmin, startTestServer } from '../../support/test-server.js';
import { requireMariaDb } from '../../support/requirements.js';

/**
 * Remote-URL mode against a second, separate MariaDB instance reached over
 * TCP with a password, as an office's existing database server would be.
 */
describe('remote MariaDB catalog', () => {
  const baseDir = makeTempDir('remote-db');
  const port = 33000 + Math.floor(Math.random() * 2000);
  let db: ManagedMariaDb;
  const url = `mariadb://vplus:${encodeURIComponent('s3cret:pass@word')}@127.0.0.1:${port}/vplus_remote`;

  beforeAll(async () => {
    requireMariaDb();
    db = new ManagedMariaDb({ baseDir, logger: pino({ level: 'silent' }), tcpPort: port });
    await db.start();
    const admin = new Catalog({ mode: 'managed', pool: { socketPath: db.socketPath, user: db.user } });
    await admin.execute('CREATE DATABASE vplus_remote');
    await admin.execute("CREATE USER 'vplus'@'127.0.0.1' IDENTIFIED BY 's3cret:pass@word'");
    await admin.execute("GRANT ALL ON vplus_remote.* TO 'vplus'@'127.0.0.1'");
    await admin.close();
  });
  afterAll(async () => {
    await db.stop();
    fs.rmSync(baseDir, { recursive: true, force: true });
  });

  it('runs the server on a remote catalog given by URL and keeps data there', async () => {
    const t = await startTestServer({ dbUrl: url });
    try {
      const health = await t.api.request<{ catalog: { mode: string; engine: string; ok: boolean } }>('GET', '/api/health');
      expect(health.body.catalog).toMatchObject({ mode: 'remote', engine: 'MariaDB', ok: true });
      await setupAdmin(t.api);
    } finally {
      await t.destroy();
    }
    // A second server on the same remote catalog sees the admin created by the first.
    const t2 = await startTestServer({ dbUrl: url });
    try {
      expect(await t2.api.login(ADMIN.username, ADMIN.password)).toBeTruthy();
    } finally {
      await t2.destroy();
    }
  });

  it('fails with a clear message when the password is wrong', async () => {
    const err = await startTestServer({ dbUrl: `mariadb://vplus:wrong@127.0.0.1:${port}/vplus_remote` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/catalog database is not reachable at 127\.0\.0\.1:\d+ \(user vplus, database vplus_remote\): Access denied/);
  });
});
