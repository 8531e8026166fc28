import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, BackupPage, CopyListItem, Policy, Task } from '../../../common/api/index.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { vplus, vplusOk } from '../../support/processes.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { ADMIN, makeTempDir, setupAdmin, startTestServer, taskEnded, type TestServer } from '../../support/test-server.js';

/** `vplus copy run|list`, `restore --from`, `policy create|update --copy-to` against a real server, node and repositories. Run `npm run build:ts` first. */
describe('vplus copy against a real server', () => {
  let t: TestServer;
  let admin: string;
  let node: TestNode;
  let dir: string;
  let env: Record<string, string>;
  let backup: Backup;
  let image: Buffer;

  const run = async (args: string[]): Promise<{ code: number | null; output: string }> => {
    const p = vplus(args, env);
    p.child.stdin!.end();
    const code = await p.exited;
    return { code, output: p.output() };
  };

  beforeAll(async () => {
    t = await startTestServer();
    admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers({ name: 'store-1' }), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    dir = makeTempDir('cli-copies');
    env = { VPLUS_CONFIG: path.join(dir, 'cli.json'), VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
    await vplusOk(['login', '--server', t.server.url, '--user', ADMIN.username, '--password-stdin', '--fingerprint', t.server.fingerprint], env, `${ADMIN.password}\n`);
    await vplusOk(['destination', 'add', 'nas', '--node', 'store-1', '--path', path.join(dir, 'nas')], env);
    await vplusOk(['destination', 'add', 'offsite', '--node', 'store-1', '--path', path.join(dir, 'offsite')], env);
    const repo = await Repository.open(path.join(dir, 'nas'));
    const w = await repo.startBackup({ group: 'vm-7', source: { type: 'full', vm: { name: 'files' } } });
    image = randomBytes(2 * 1048576);
    await w.writeDisk('vda', image.length, Readable.from([image]));
    await w.commit();
    await repo.close();
    const task = (await t.api.request<Task>('POST', '/api/destinations/nas/import', {}, { token: admin })).body;
    expect((await taskEnded(t.api, admin, task.id)).state).toBe('FINISHED');
    backup = (await t.api.request<BackupPage>('GET', '/api/backups', undefined, { token: admin })).body.backups[0]!;
  });
  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('copy run --wait copies the backup and copy list shows it; a second copy is refused', async () => {
    const id = String(backup.id);
    expect((await run(['copy', 'list', id])).output).toMatch(new RegExp(`Backup ${id} has no copies`));
    const out = await vplusOk(['copy', 'run', id, '--to', 'offsite', '--wait'], env);
    expect(out).toMatch(new RegExp(`^Copying backup ${id} to destination offsite: task \\d+ \\(COPY\\)`));
    expect(out).toMatch(/is running on node store-1/);
    expect(out).toMatch(/100%, 2\.00 MiB of 2\.00 MiB, .*ETA/);
    expect(out).toMatch(/Copied backup .* written to the destination/);
    const table = await vplusOk(['copy', 'list'], env);
    expect(table).toMatch(/ID\s+BACKUP\s+VM\s+FROM\s+DESTINATION\s+STATE\s+STORED\s+CREATED/);
    expect(table).toMatch(new RegExp(`\\b${id}\\s+files\\s+nas\\s+offsite\\s+ok\\b`));
    const json = JSON.parse(await vplusOk(['copy', 'list', id, '--json'], env)) as CopyListItem[];
    expect(json).toEqual([expect.objectContaining({ backupId: backup.id, destination: 'offsite', state: 'ok' })]);
    const again = await run(['copy', 'run', id, '--to', 'offsite']);
    expect(again.code).toBe(1);
    expect(again.output).toMatch(/holds a copy of backup/);
    const usage = await run(['copy', 'run', id]);
    expect(usage.code).toBe(2);
    expect(usage.output).toMatch(/--to/);
  });

  it('restore --from reads the copy', async () => {
    const out = path.join(dir, 'restored');
    const text = await vplusOk(['restore', String(backup.id), '--node', 'store-1', '--path', out, '--format', 'raw', '--from', 'offsite', '--wait'], env);
    expect(text).toMatch(/Reading backup \d+ from its copy on destination offsite/);
    expect(fs.readFileSync(path.join(out, 'vda.raw')).equals(image)).toBe(true);
    const missing = await run(['restore', String(backup.id), '--node', 'store-1', '--path', out, '--from', 'nowhere']);
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/no destination "nowhere"/);
  });

  it('policy create and update take --copy-to and --copy-retention', async () => {
    const created = JSON.parse(
      await vplusOk(['policy', 'create', 'offsite-copies', '--destination', 'nas', '--schedule', 'incremental mon-fri 22:00', '--retention', 'last=7', '--copy-to', 'offsite', '--copy-retention', 'last=30 monthly=12', '--json'], env),
    ) as Policy;
    expect(created).toMatchObject({ copyDestination: 'offsite', copyRetention: { keepLast: 30, monthly: 12 } });
    expect(await vplusOk(['policy', 'show', 'offsite-copies'], env)).toMatch(/Copies:\s+each new backup to offsite, keeping last=30 monthly=12 there/);
    const orphan = await run(['policy', 'create', 'x', '--destination', 'nas', '--copy-retention', 'last=3']);
    expect(orphan.code).toBe(2);
    expect(orphan.output).toMatch(/--copy-retention needs --copy-to/);
    const bad = await run(['policy', 'update', 'offsite-copies', '--copy-retention', 'last=zero']);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/--copy-retention/);
    const own = await run(['policy', 'update', 'offsite-copies', '--copy-to', 'nas']);
    expect(own.code).toBe(1);
    expect(own.output).toMatch(/another destination/);
    const cleared = JSON.parse(await vplusOk(['policy', 'update', 'offsite-copies', '--clear-copy-to', '--json'], env)) as Policy;
    expect(cleared).toMatchObject({ copyDestination: null, copyRetention: null });
  });
});
