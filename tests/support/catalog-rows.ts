import os from 'node:os';
import path from 'node:path';
import { Catalog, type SqlValue } from '../../electron/server/db/catalog.js';
import type { TestServer } from './test-server.js';

/** A second connection pool on a test server's managed catalog, for rows a test writes or checks directly. */
export function openTestCatalog(t: TestServer): Catalog {
  return new Catalog({ mode: 'managed', pool: { socketPath: path.join(t.dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus' } });
}

/** Inserts rows (objects with the same keys, the table's column names) in statements of `chunk` rows. */
export async function insertRows(catalog: Catalog, table: string, rows: readonly Record<string, SqlValue>[], chunk = 500): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    const values = part.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ');
    await catalog.execute(
      `INSERT INTO ${table} (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ${values}`,
      part.flatMap((row) => columns.map((c) => row[c])),
    );
  }
}

export const DAY_MS = 86_400_000;
