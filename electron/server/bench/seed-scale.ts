import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseBootConfig } from '../boot-config.js';
import { openCatalog } from '../db/catalog-factory.js';
import { MIGRATIONS } from '../db/migrations/index.js';
import { Migrator } from '../db/migrator.js';
import { seedScaleFixture } from '../db/scale-fixture.js';

const USAGE = `usage: npm run seed:scale -- [--data-dir DIR | --db-url mariadb://user:pass@host:3306/db] [--vms N] [--days N]

Fills a new catalog with the scale fixture (electron/server/db/scale-fixture.ts): N VMs on three
hypervisors and nodes, one backup of each per night for N days with the workflows, tasks, task logs,
policy runs and audit entries behind them (default 1,000 VMs × 365 days).
  --data-dir DIR   the server's data directory and its managed MariaDB (default: the server's,
                   VPLUS_DATA_DIR or ~/.local/share/vplus); the server must be stopped
  --db-url URL     a remote catalog instead (env: VPLUS_DB_URL)
The catalog is migrated first; one that already has hypervisors, VMs, destinations, policies or
backups is refused.`;

/** `npm run seed:scale`: the scale fixture into the catalog a server would use. */
export async function seedScale(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, 'db-url': { type: 'string' }, vms: { type: 'string' }, days: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const count = (v: string | undefined, what: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^[1-9]\d*$/.test(v)) throw new Error(`--${what} must be a whole number of at least 1`);
    return Number(v);
  };
  const vms = count(values.vms, 'vms');
  const days = count(values.days, 'days');
  const config = parseBootConfig({ dataDir: values['data-dir'], dbUrl: values['db-url'] ?? (process.env.VPLUS_DB_URL || undefined) });
  if (!config.dbUrl) refuseRunningServer(config.dataDir);

  const logger = pino({ level: 'warn' });
  const opened = await openCatalog({ dataDir: config.dataDir, ...(config.dbUrl ? { dbUrl: config.dbUrl } : {}), logger });
  try {
    await new Migrator(opened.catalog, MIGRATIONS, logger).migrate();
    const where = config.dbUrl ? 'the remote catalog' : `the managed catalog in ${config.dataDir}`;
    process.stdout.write(`Filling ${where} with ${vms ?? 1000} VMs × ${days ?? 365} nights…\n`);
    const s = await seedScaleFixture(opened.catalog, {
      ...(vms !== undefined ? { vms } : {}),
      ...(days !== undefined ? { days } : {}),
      onProgress: (step, rows, seconds) => process.stdout.write(`  ${step}: ${rows.toLocaleString('en')} rows in ${seconds.toFixed(1)} s\n`),
    });
    process.stdout.write(
      `Done in ${s.seconds.toFixed(1)} s: ${s.vms} VMs, ${s.backups.toLocaleString('en')} backups, ${s.workflows.toLocaleString('en')} workflows, ` +
        `${s.tasks.toLocaleString('en')} tasks, ${s.taskLogs.toLocaleString('en')} task log lines, ${s.policyRuns} policy runs, ${s.auditEntries.toLocaleString('en')} audit entries.\n`,
    );
  } finally {
    await opened.close();
  }
}

/** The managed MariaDB of a running server holds the data directory; starting a second one would stop it. */
function refuseRunningServer(dataDir: string): void {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(path.join(dataDir, 'mariadb', 'run', 'mysqld.pid'), 'utf8'), 10);
  } catch {
    return;
  }
  try {
    process.kill(pid, 0);
  } catch {
    return;
  }
  throw new Error(`a server's MariaDB (pid ${pid}) is running on ${dataDir}; stop the server first, or pass --db-url`);
}
