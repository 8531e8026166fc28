import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../electron/server/db/catalog.js';
import { ManagedMariaDb, MariaDbMissingError } from '../../../electron/server/db/managed-mariadb.js';
import { MIGRATIONS } from '../../../electron/server/db/migrations/index.js';
import { Migrator } from '../../../electron/server/db/migrator.js';
import { ADMIN, makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';
import { requireMariaDb } from '../../support/requirements.js';

const silent = pino({ level: 'silent' });

describe('managed MariaDB catalog', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('initialises a private instance, applies every migration to the empty catalog, and serves health', async () => {
    const t = await startTestServer();
    cleanups.push(() => t.destroy());
    const mariadbDir = path.join(t.dataDir, 'mariadb');
    expect(fs.existsSync(path.join(mariadbDir, 'data', 'mysql'))).toBe(true);
    expect(fs.existsSync(path.join(mariadbDir, 'run', 'mysqld.sock'))).toBe(true);

    const health = await t.api.request<{ status: string; catalog: { engine: string; version: string; mode: string }; setupRequired: boolean }>('GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.catalog.engine).toBe('MariaDB');
    expect(health.body.catalog.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(health.body.catalog.mode).toBe('managed');
    expect(health.body.setupRequired).toBe(true);

    const token = await setupAdmin(t.api);
    const status = await t.api.request<{ migrations: string[] }>('GET', '/api/status', undefined, { token });
    expect(status.body.migrations).toEqual(MIGRATIONS.map((m) => m.id));
  });

  it('keeps its data across a restart and does not re-run migrations', async () => {
    const dataDir = makeTempDir('restart');
    let t: TestServer = await startTestServer({ dataDir });
    await setupAdmin(t.api);
    const firstFingerprint = t.server.fingerprint;
    await t.stop();

    t = await startTestServer({ dataDir });
    cleanups.push(() => t.destroy());
    expect(t.server.fingerprint).toBe(firstFingerprint); // same certificate: pinned clients keep working
    const token = await t.api.login(ADMIN.username, ADMIN.password);
    const users = await t.api.request<{ username: string }[]>('GET', '/api/users', undefined, { token });
    expect(users.body.map((u) => u.username)).toEqual(['admin']);
    const health = await t.api.request<{ setupRequired: boolean }>('GET', '/api/health');
    expect(health.body.setupRequired).toBe(false);
  });

  it('restarts a killed mariadbd and the server recovers', async () => {
    const t = await startTestServer();
    cleanups.push(() => t.destroy());
    const token = await setupAdmin(t.api);
    const pid = t.server.managedDbPid();
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');

    // While it is down the API says so instead of failing with a 500.
    const during = await t.api.request<{ catalog: { ok: boolean } }>('GET', '/api/health');
    expect(during.status).toBe(200);

    await waitFor('a new mariadbd', async () => {
      const now = t.server.managedDbPid();
      return now !== undefined && now !== pid ? now : undefined;
    });
    const created = await waitFor('a write to succeed after recovery', async () => {
      const res = await t.api.request('POST', '/api/users', { username: 'after-crash', password: 'after-crash-1', role: 'viewer' }, { token });
      return res.status === 201 ? res : undefined;
    });
    expect(created.status).toBe(201);
    const health = await t.api.request<{ status: string; catalog: { ok: boolean } }>('GET', '/api/health');
    expect(health.body.catalog.ok).toBe(true);
  });

  it('stops a leftover mariadbd from a server that was killed, then starts cleanly', async () => {
    requireMariaDb();
    const baseDir = makeTempDir('stale');
    cleanups.push(async () => fs.rmSync(baseDir, { recursive: true, force: true }));
    const first = new ManagedMariaDb({ baseDir, logger: silent });
    await first.start();
    const orphanPid = first.pid!;
    // Simulate the server dying without stopping its child: forget the child, keep it running.
    first.removeAllListeners();
    const second = new ManagedMariaDb({ baseDir, logger: silent });
    await second.start();
    cleanups.push(() => second.stop());
    expect(second.pid).not.toBe(orphanPid);
    expect(() => process.kill(orphanPid, 0)).toThrow();
  });

  it('refuses to start without the MariaDB binaries and names the package to install', async () => {
    const baseDir = makeTempDir('missing');
    cleanups.push(async () => fs.rmSync(baseDir, { recursive: true, force: true }));
    const db = new ManagedMariaDb({ baseDir, logger: silent, searchPath: [baseDir] });
    const err = await db.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MariaDbMissingError);
    expect((err as Error).message).toContain('apt-get install mariadb-server');
  });

  it("reports mariadb-install-db's own reason (it prints it on stdout) and leaves no half-initialised directory behind", async () => {
    requireMariaDb();
    const baseDir = makeTempDir('install-fails');
    cleanups.push(async () => fs.rmSync(baseDir, { recursive: true, force: true }));
    // What an earlier server killed during its install left (no such process lives).
    fs.mkdirSync(path.join(baseDir, 'data.init-999999999'), { recursive: true });
    const db = new ManagedMariaDb({ baseDir, logger: silent, user: 'vplus-no-such-user' });
    const err = await db.start().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^mariadb-install-db failed: .*Cannot change ownership of the database directories to the 'vplus-no-such-user'/);
    expect(fs.readdirSync(baseDir).filter((n) => n.startsWith('data'))).toEqual([]);
  });

  it('initialises and serves on a host whose /etc/hosts has no "localhost" (a bare container)', async () => {
    requireMariaDb();
    const module = path.resolve('dist/electron/server/db/managed-mariadb.js');
    if (!fs.existsSync(module)) throw new Error(`${module} is missing; run npm run build first`);
    const baseDir = makeTempDir('no-localhost');
    cleanups.push(async () => fs.rmSync(baseDir, { recursive: true, force: true }));
    const hosts = path.join(baseDir, 'hosts');
    fs.writeFileSync(hosts, '10.99.99.99 elsewhere\n');
    // A private mount namespace sees that hosts file; the rest of the machine does not.
    const script = `
      const { ManagedMariaDb } = await import(${JSON.stringify(module)});
      const { default: pino } = await import('pino');
      const dns = await import('node:dns/promises');
      const localhost = await dns.lookup('localhost').then(() => 'resolves', () => 'unresolved');
      const db = new ManagedMariaDb({ baseDir: ${JSON.stringify(path.join(baseDir, 'mariadb'))}, logger: pino({ level: 'silent' }) });
      await db.start();
      const { default: mariadb } = await import('mariadb');
      const conn = await mariadb.createConnection({ socketPath: db.socketPath, user: db.user });
      const rows = await conn.query('SELECT 40 + 2 AS answer');
      await conn.end();
      await db.stop();
      process.stdout.write(JSON.stringify({ localhost, answer: Number(rows[0].answer) }));
    `;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind "$0" /etc/hosts && exec node --input-type=module -e "$1"`, hosts, script], { cwd: path.resolve('.'), encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ localhost: 'unresolved', answer: 42 });
  });

  it('lets only one of two concurrent migrators apply each migration', async () => {
    requireMariaDb();
    const baseDir = makeTempDir('migrate');
    const db = new ManagedMariaDb({ baseDir, logger: silent });
    await db.start();
    cleanups.push(async () => {
      await db.stop();
      fs.rmSync(baseDir, { recursive: true, force: true });
    });
    const admin = new Catalog({ mode: 'managed', pool: { socketPath: db.socketPath, user: db.user } });
    await admin.execute('CREATE DATABASE race');
    await admin.close();
    const a = new Catalog({ mode: 'managed', pool: { socketPath: db.socketPath, user: db.user, database: 'race' } });
    const b = new Catalog({ mode: 'managed', pool: { socketPath: db.socketPath, user: db.user, database: 'race' } });
    try {
      const [ra, rb] = await Promise.all([new Migrator(a, MIGRATIONS, silent).migrate(), new Migrator(b, MIGRATIONS, silent).migrate()]);
      expect([...ra, ...rb].sort()).toEqual(MIGRATIONS.map((m) => m.id).sort());
      const rows = await a.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
      expect(rows.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));
      const tables = await a.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'race' ORDER BY 1");
      expect(tables.map((r) => r.t).sort()).toEqual(['audit_log', 'backup_copies', 'backups', 'destination_usage', 'destinations', 'enrollment_tokens', 'hypervisors', 'm365_backups', 'm365_libraries', 'm365_sites', 'm365_tenants', 'm365_users', 'mounts', 'nodes', 'policies', 'policy_runs', 'schema_migrations', 'secrets', 'sessions', 'settings', 'task_logs', 'tasks', 'users', 'vm_backup_summaries', 'vm_chains', 'vm_policies', 'vms', 'workflows'].sort());
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('runs a deadlock victim again when asked: two racing "check, then insert" transactions end with one row and one refusal', async () => {
    requireMariaDb();
    const baseDir = makeTempDir('deadlock');
    const db = new ManagedMariaDb({ baseDir, logger: silent });
    await db.start();
    const admin = new Catalog({ mode: 'managed', pool: { socketPath: db.socketPath, user: db.user } });
    await admin.execute('CREATE DATABASE dl');
    await admin.execute('CREATE TABLE dl.t (id INT PRIMARY KEY AUTO_INCREMENT, who VARCHAR(8)) ENGINE=InnoDB');
    const c = new Catalog({ mode: 'managed', pool: { socketPath: db.socketPath, user: db.user, database: 'dl' } });
    cleanups.push(async () => {
      await c.close();
      await admin.close();
      await db.stop();
      fs.rmSync(baseDir, { recursive: true, force: true });
    });
    // Both take the (compatible) gap lock of the empty table before either inserts: InnoDB
    // must then pick a deadlock victim. Retried, the victim sees the winner's row.
    let arrived = 0;
    let release: () => void = () => undefined;
    let bothLocked = new Promise<void>((r) => (release = r));
    const attempts: string[] = [];
    const claim = (who: string, retryDeadlock: boolean) =>
      c.transaction(
        async (tx) => {
          attempts.push(who);
          const [row] = await tx.query<{ n: number }>('SELECT COUNT(*) AS n FROM t FOR UPDATE');
          if (Number(row?.n) > 0) return 'refused';
          if (++arrived === 2) release();
          await Promise.race([bothLocked, new Promise((r) => setTimeout(r, 2000))]);
          await tx.execute('INSERT INTO t (who) VALUES (?)', [who]);
          return 'inserted';
        },
        { retryDeadlock },
      );
    const results = await Promise.all([claim('a', true), claim('b', true)]);
    expect(results.sort()).toEqual(['inserted', 'refused']);
    expect(attempts.length).toBe(3); // the victim ran a second time
    expect(await c.query('SELECT who FROM t')).toHaveLength(1);

    // Without the retry the victim's error reaches the caller.
    await c.execute('DELETE FROM t');
    arrived = 0;
    bothLocked = new Promise<void>((r) => (release = r));
    const outcome = await Promise.allSettled([claim('c', false), claim('d', false)]);
    expect(outcome.filter((o) => o.status === 'rejected').map((o) => (o).reason as { errno?: number }).map((e) => e.errno)).toEqual([1213]);
  });
});
