import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { BootConfigInput } from '../../electron/server/boot-config.js';
import { Catalog } from '../../electron/server/db/catalog.js';
import { openCatalog } from '../../electron/server/db/catalog-factory.js';
import { MIGRATIONS } from '../../electron/server/db/migrations/index.js';
import { Migrator } from '../../electron/server/db/migrator.js';
import { seedScaleFixture, type ScaleFixtureOptions, type ScaleFixtureSummary } from '../../electron/server/db/scale-fixture.js';
import { makeTempDir, setupAdmin, startTestServer, type TestServer } from './test-server.js';

export interface ScaleServer extends TestServer {
  /** The first admin's bearer token. */
  token: string;
  fixture: ScaleFixtureSummary;
  /** Another connection to the server's catalog: what a test checks the API's answers against. */
  catalog: Catalog;
}

/**
 * A real server on a managed catalog filled with the scale fixture before it starts, as after
 * `npm run seed:scale` (the fixture's `now` defaults to the current time; pass one to pin it).
 */
export async function startScaleServer(fixture: ScaleFixtureOptions, input: Partial<BootConfigInput> = {}): Promise<ScaleServer> {
  const dataDir = input.dataDir ?? makeTempDir('scale');
  const logger = pino({ level: 'silent' });
  const opened = await openCatalog({ dataDir, logger });
  let summary: ScaleFixtureSummary;
  try {
    await new Migrator(opened.catalog, MIGRATIONS, logger).migrate();
    summary = await seedScaleFixture(opened.catalog, fixture);
  } finally {
    await opened.close();
  }
  const server = await startTestServer({ ...input, dataDir });
  const catalog = new Catalog({ mode: 'managed', pool: { socketPath: path.join(dataDir, 'mariadb', 'run', 'mysqld.sock'), user: os.userInfo().username, database: 'vplus', connectionLimit: 2 } });
  const close = async (): Promise<void> => {
    await catalog.close().catch(() => undefined);
  };
  return {
    ...server,
    token: await setupAdmin(server.api),
    fixture: summary,
    catalog,
    async stop() {
      await close();
      await server.stop();
    },
    async destroy() {
      await close();
      await server.destroy();
    },
  };
}
