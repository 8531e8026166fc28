import mariadb, { type Pool, type PoolConfig, type PoolConnection } from 'mariadb';
import fs from 'node:fs';
import type { CatalogInfo } from '../../../common/api/health.js';

export type SqlValue = string | number | bigint | boolean | Date | Buffer | null | undefined;

export class CatalogUnavailableError extends Error {
  readonly code = 'CATALOG_UNAVAILABLE';
}

/** A handle on one connection (inside a transaction, or borrowed from the pool). */
export interface Sql {
  query<T = Record<string, unknown>>(sql: string, params?: SqlValue[] | Record<string, SqlValue>): Promise<T[]>;
  execute(sql: string, params?: SqlValue[] | Record<string, SqlValue>): Promise<{ affectedRows: number; insertId: number }>;
}

export interface CatalogConnectionOptions {
  mode: 'managed' | 'remote';
  pool: PoolConfig;
}

/**
 * The catalog database. A thin adapter over the mariadb pool: repositories get
 * this and never see the driver. Times are stored in UTC (session time_zone).
 */
export class Catalog implements Sql {
  private readonly pool: Pool;
  private version = '';

  constructor(readonly options: CatalogConnectionOptions) {
    this.pool = mariadb.createPool({
      connectionLimit: 8,
      acquireTimeout: 10_000,
      connectTimeout: 5_000,
      bigIntAsNumber: true,
      insertIdAsNumber: true,
      decimalAsNumber: true,
      timezone: '+00:00',
      initSql: ["SET time_zone = '+00:00'"],
      ...options.pool,
    });
  }

  async query<T = Record<string, unknown>>(sql: string, params?: SqlValue[] | Record<string, SqlValue>): Promise<T[]> {
    const rows = await this.run((c) => c.query<T[]>({ sql, namedPlaceholders: isNamed(params) }, params));
    return Array.from(rows);
  }

  async execute(sql: string, params?: SqlValue[] | Record<string, SqlValue>): Promise<{ affectedRows: number; insertId: number }> {
    const res = await this.run((c) => c.query<{ affectedRows: number; insertId: number }>({ sql, namedPlaceholders: isNamed(params) }, params));
    return { affectedRows: res.affectedRows, insertId: res.insertId };
  }

  /** Runs fn in a transaction on one connection; commits on success, rolls back on error. */
  /**
   * Runs `fn` in a transaction. With `retryDeadlock`, a transaction InnoDB chose as a deadlock
   * victim (1213) is run again, up to 3 times: for work whose only effects are in the database,
   * such as "check, then insert" under FOR UPDATE, where two racing callers take compatible
   * gap locks and then block each other's inserts.
   */
  async transaction<T>(fn: (sql: Sql) => Promise<T>, options: { retryDeadlock?: boolean } = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transactionOnce(fn);
      } catch (err) {
        if (!options.retryDeadlock || attempt >= 3 || (err as { errno?: number }).errno !== 1213) throw err;
      }
    }
  }

  private async transactionOnce<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.withConnection(async (conn) => {
      await conn.beginTransaction();
      try {
        const result = await fn(connectionSql(conn));
        await conn.commit();
        return result;
      } catch (err) {
        // A rollback fails only on a broken connection, whose transaction the server rolls
        // back itself as it drops; err, the cause, is what the caller gets (and logs).
        await conn.rollback().catch(() => undefined);
        throw err;
      }
    });
  }

  /** Borrows one connection, e.g. for session-scoped locks (GET_LOCK). */
  async withConnection<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (err) {
      throw new CatalogUnavailableError(`the catalog database is not reachable: ${(err as Error).message}`);
    }
    try {
      return await fn(conn);
    } finally {
      await conn.release();
    }
  }

  /**
   * Opens one direct connection to surface the real reason a catalog is
   * unreachable (wrong password, refused, unknown database): the pool would
   * only report a timeout.
   */
  async probe(): Promise<void> {
    const { host, port, user, socketPath, database } = this.options.pool;
    const where = socketPath ? `socket ${socketPath}` : `${host ?? 'localhost'}:${port ?? 3306}`;
    try {
      const conn = await mariadb.createConnection({ ...this.options.pool, connectTimeout: 5_000 });
      await conn.end();
    } catch (err) {
      const reason = ((err as { text?: string }).text ?? (err as Error).message).split('\n')[0];
      throw new CatalogUnavailableError(`the catalog database is not reachable at ${where} (user ${user ?? '?'}, database ${database ?? '?'}): ${reason}`);
    }
  }

  async info(): Promise<CatalogInfo> {
    try {
      const rows = await this.query<{ v: string }>('SELECT VERSION() AS v');
      this.version = rows[0]?.v ?? '';
      return { ...parseVersion(this.version), mode: this.options.mode, ok: true };
    } catch {
      return { ...parseVersion(this.version), mode: this.options.mode, ok: false };
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private run<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    return this.withConnection(fn);
  }
}

function connectionSql(conn: PoolConnection): Sql {
  return {
    async query<T>(sql: string, params?: SqlValue[] | Record<string, SqlValue>): Promise<T[]> {
      return Array.from(await conn.query<T[]>({ sql, namedPlaceholders: isNamed(params) }, params));
    },
    async execute(sql: string, params?: SqlValue[] | Record<string, SqlValue>) {
      const res = await conn.query<{ affectedRows: number; insertId: number }>({ sql, namedPlaceholders: isNamed(params) }, params);
      return { affectedRows: res.affectedRows, insertId: res.insertId };
    },
  };
}

function isNamed(params: unknown): boolean {
  return params !== undefined && params !== null && !Array.isArray(params);
}

/** "10.11.6-MariaDB-0+deb12u1" → { engine: "MariaDB", version: "10.11.6" } */
export function parseVersion(raw: string): { engine: string; version: string } {
  const m = /^(\d+\.\d+\.\d+)(?:-(.*))?$/.exec(raw);
  if (!m) return { engine: raw ? 'unknown' : 'MariaDB', version: raw || 'unknown' };
  const engine = /mariadb/i.test(m[2] ?? '') ? 'MariaDB' : 'MySQL';
  return { engine, version: m[1]! };
}

/**
 * Parses mariadb://user:pass@host:port/db[?ssl=true&sslCa=/path&sslVerify=false]
 * into a pool config. TLS verifies the server certificate unless told not to.
 */
export function poolConfigFromUrl(url: string): PoolConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('the database URL is not a valid URL; expected mariadb://user:pass@host:port/db');
  }
  if (u.protocol !== 'mariadb:') throw new Error('the database URL must start with mariadb://');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new Error('the database URL names no database; expected mariadb://user:pass@host:port/db');
  const config: PoolConfig = {
    host: u.hostname,
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database,
  };
  const ssl = u.searchParams.get('ssl');
  if (ssl === 'true' || ssl === 'required' || u.searchParams.has('sslCa')) {
    const ca = u.searchParams.get('sslCa');
    config.ssl = {
      rejectUnauthorized: u.searchParams.get('sslVerify') !== 'false',
      ...(ca ? { ca: fs.readFileSync(ca, 'utf8') } : {}),
    };
  }
  return config;
}
