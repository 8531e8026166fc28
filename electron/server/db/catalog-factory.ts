import path from 'node:path';
import type { Logger } from 'pino';
import { Catalog, poolConfigFromUrl } from './catalog.js';
import { ManagedMariaDb } from './managed-mariadb.js';

const DATABASE = 'vplus';

export interface OpenedCatalog {
  catalog: Catalog;
  /** Present in managed mode. */
  managed?: ManagedMariaDb;
  close(): Promise<void>;
}

/**
 * Opens the catalog the boot config asks for: a remote MariaDB by URL, or the
 * managed local instance (started here, and its database created on first use).
 */
export async function openCatalog(opts: { dataDir: string; dbUrl?: string; tcpPort?: number; logger: Logger }): Promise<OpenedCatalog> {
  if (opts.dbUrl) {
    const catalog = new Catalog({ mode: 'remote', pool: poolConfigFromUrl(opts.dbUrl) });
    try {
      await catalog.probe();
    } catch (err) {
      await catalog.close();
      throw err;
    }
    return { catalog, close: () => catalog.close() };
  }
  const managed = new ManagedMariaDb({
    baseDir: path.join(opts.dataDir, 'mariadb'),
    logger: opts.logger.child({ module: 'managed-mariadb' }),
    ...(opts.tcpPort ? { tcpPort: opts.tcpPort } : {}),
  });
  await managed.start();
  try {
    const bootstrap = new Catalog({ mode: 'managed', pool: { socketPath: managed.socketPath, user: managed.user, connectionLimit: 1 } });
    await bootstrap.execute(`CREATE DATABASE IF NOT EXISTS ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await bootstrap.close();
  } catch (err) {
    await managed.stop();
    throw err;
  }
  const catalog = new Catalog({ mode: 'managed', pool: { socketPath: managed.socketPath, user: managed.user, database: DATABASE } });
  return {
    catalog,
    managed,
    async close() {
      await catalog.close();
      await managed.stop();
    },
  };
}
