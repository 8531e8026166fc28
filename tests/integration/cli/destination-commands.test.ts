import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, Destination } from '../../../common/api/index.js';
import { defaultHandlers } from '../../../node-service/agent/node-service.js';
import { Repository } from '../../../node-service/repository/index.js';
import { vplus, vplusOk } from '../../support/processes.js';
import { enrollTestNode, type TestNode } from '../../support/test-node.js';
import { ADMIN, makeTempDir, setupAdmin, startTestServer, waitFor, type TestServer } from '../../support/test-server.js';

const PASSWORD = 'destination-secret-1';
const MiB = 1024 * 1024;

/**
 * The built `vplus` against a real server (managed MariaDB) and a real node
 * agent with the real destination handlers and a real repository on disk:
 * the destination and backup commands end to end, each task followed with
 * --wait. Run `npm run build:ts` first.
 */
describe('vplus destination / backup against a real server', () => {
  let t: TestServer;
  let node: TestNode;
  let dir: string;
  let repoPath: string;
  let env: Record<string, string>;

  /** Runs vplus to its end, whatever its exit code. */
  const run = async (args: string[], stdin?: string): Promise<{ code: number | null; output: string }> => {
    const p = vplus(args, env);
    p.child.stdin!.end(stdin);
    const code = await p.exited;
    return { code, output: p.output() };
  };

  beforeAll(async () => {
    t = await startTestServer();
    const admin = await setupAdmin(t.api);
    node = await enrollTestNode(t.api, admin, { name: 'store-1', handlers: defaultHandlers({ name: 'store-1' }), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
    dir = makeTempDir('cli-destinations');
    repoPath = path.join(dir, 'repo');
    // A session of this test's own, made by `vplus login` itself.
    env = { VPLUS_CONFIG: path.join(dir, 'cli.json'), VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
    await vplusOk(['login', '--server', t.server.url, '--user', ADMIN.username, '--password-stdin', '--fingerprint', t.server.fingerprint], env, `${ADMIN.password}\n`);
  });

  afterAll(async () => {
    await node?.stop();
    await t?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("add refuses a path that does not exist on the node, with the node's reason", async () => {
    const refused = await run(['destination', 'add', 'nowhere', '--node', 'store-1', '--path', '/nonexistent/mnt/nas/vplus']);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/\nerror: destination \/nonexistent\/mnt\/nas\/vplus .*does not exist.* on node store-1.*; is the share mounted\?\n$/);
    expect(JSON.parse(await vplusOk(['destination', 'list', '--json'], env))).toEqual([]);
  });

  it('add creates an encrypted destination with the password from stdin, and warns to keep it', async () => {
    const out = await vplusOk(['destination', 'add', 'nas', '--node', 'store-1', '--path', repoPath, '--password-stdin'], env, `${PASSWORD}\n`);
    expect(out).toContain('warning: keep a copy of this password somewhere safe: the backups on "nas" cannot be restored or re-imported without it; losing the password loses the backups\n');
    expect(out).toContain(`Checking ${repoPath} on node store-1…\n`);
    expect(out).toMatch(new RegExp(`Added destination "nas" on node store-1 at ${repoPath} \\(encrypted\\); \\S+ \\S+ free of \\S+ \\S+\\.\\n`));
    expect(out).not.toContain(PASSWORD);
    expect(fs.existsSync(path.join(repoPath, 'config.json'))).toBe(true);
  });

  it('list --json shows it with every field; the table shows it too', async () => {
    const list = JSON.parse(await vplusOk(['destination', 'list', '--json'], env)) as Destination[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: 'nas', node: 'store-1', path: repoPath, encrypted: true, status: 'ok', backups: 0, storedBytes: 0, logicalBytes: 0 });
    expect(typeof list[0]!.id).toBe('number');
    expect(list[0]!.freeBytes).toBeGreaterThan(0);
    expect(await vplusOk(['destination', 'list'], env)).toMatch(new RegExp(`^\\d+\\s+nas\\s+store-1\\s+${repoPath}\\s+yes\\s+ok\\s+0\\s+0 B\\s+0 B\\s+`, 'm'));
  });

  it('import --wait finds the backups written to the destination; backup list --json lists them', async () => {
    // Two backups of one VM written straight into the repository, as a node's STORE would;
    // the second changes 2 MiB so that pruning the first frees something.
    const repo = await Repository.open(repoPath, { password: PASSWORD });
    const image = Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(2 * MiB), Buffer.from('x'.repeat(MiB))]);
    for (const n of [1, 2]) {
      if (n === 2) randomBytes(2 * MiB).copy(image, 0);
      const w = await repo.startBackup({ group: 'vm-42', source: { type: n === 1 ? 'full' : 'incremental', vm: { name: 'prod-db' } } });
      await w.writeDisk('vda', image.length, Readable.from([image]));
      await w.commit();
    }
    await repo.close();

    const out = await vplusOk(['destination', 'import', 'nas', '--wait'], env);
    expect(out).toMatch(/Importing the backups on destination nas: task (\d+)\./);
    expect(out).toMatch(/Task \d+ \(REIMPORT destination:nas\) finished/);
    expect(out).toContain('Found 2 backups of 1 VM (12.0 MiB of disks) on the destination; they are added to the catalog.\nSee them with: vplus backup list --destination nas\n');
    expect(out).toMatch(/The destination now holds 2 backups: /);

    // The catalog takes them in as the task ends (a listener on the server); give it a moment.
    const backups = await waitFor('the imported backups', async () => {
      const list = JSON.parse(await vplusOk(['backup', 'list', '--destination', 'nas', '--json'], env)) as Backup[];
      return list.length === 2 ? list : undefined;
    }, 10_000);
    expect(backups.map((b) => b.type)).toEqual(['incremental', 'full']);
    expect(backups.every((b) => b.vm === 'vm-42' && b.destination === 'nas' && b.status === 'available' && b.logicalBytes === 6 * MiB)).toBe(true);
    expect(Object.keys(backups[0]!)).toEqual(expect.arrayContaining(['id', 'vm', 'type', 'createdAt', 'status', 'logicalBytes', 'storedBytes', 'destination']));
    expect(await vplusOk(['backup', 'list', 'vm-42'], env)).toMatch(/^\d+\s+vm-42\s+full\s+\S+ \S+\s+available\s+6\.00 MiB\s+\S+( \S+)?\s+nas$/m);
  });

  it('verify --wait checks every chunk; a damaged chunk is printed with the backups it affects and exits 1', async () => {
    const clean = await vplusOk(['destination', 'verify', 'nas', '--wait'], env);
    expect(clean).toMatch(/Task \d+ \(VERIFY destination:nas\) finished/);
    expect(clean).toMatch(/Checked \d+ chunks \([^)]+\): no problems found\.\n/);

    // The first chunk file in the 256 shard directories (most are empty).
    const chunkDir = path.join(repoPath, 'chunks');
    const chunkFile = fs
      .readdirSync(chunkDir)
      .sort()
      .flatMap((shard) => fs.readdirSync(path.join(chunkDir, shard)).filter((f) => /^[0-9a-f]{64}$/.test(f)).map((f) => path.join(chunkDir, shard, f)))[0]!;
    const bytes = fs.readFileSync(chunkFile);
    bytes[bytes.length - 1]! ^= 0xff;
    fs.writeFileSync(chunkFile, bytes);
    try {
      const damaged = await run(['destination', 'verify', 'nas', '--wait']);
      expect(damaged.code).toBe(1);
      expect(damaged.output).toMatch(/: 1 damaged chunk affects [12] backups?\.\nDamaged chunks → the backups that need them:\n {2}[0-9a-f]{64} → \S+/);
      expect(damaged.output).toMatch(/error: task \d+ \(VERIFY destination:nas\) failed: 1 damaged chunk affects/);
      // The catalog says so too, in words under the table.
      const listed = await vplusOk(['backup', 'list', '--destination', 'nas'], env);
      expect(listed).toMatch(/\bDAMAGED\b/);
      expect(listed).toMatch(/^backup \d+ is damaged: 1 damaged or missing chunk/m);
    } finally {
      bytes[bytes.length - 1]! ^= 0xff;
      fs.writeFileSync(chunkFile, bytes);
    }
    // Repaired; the next verify gives the backups back.
    expect(await vplusOk(['destination', 'verify', 'nas', '--wait'], env)).toMatch(/no problems found/);
    const after = JSON.parse(await vplusOk(['backup', 'list', '--destination', 'nas', '--json'], env)) as Backup[];
    expect(after.map((b) => b.status)).toEqual(['available', 'available']);
  });

  it('prune --dry-run --wait lists what it would keep (with the reasons) and remove, and removes nothing', async () => {
    const out = await vplusOk(['destination', 'prune', 'nas', '--retention', 'last=1', '--dry-run', '--wait'], env);
    expect(out).toMatch(/Pruning destination nas to last=1 \(dry run\): task \d+\./);
    expect(out).toContain('Dry run: would remove 1 backup and keep 1.\n');
    expect(out).toMatch(/Would keep:\n {2}BACKUP\s+VM\s+CREATED\s+KEPT BY\n {2}\S+\s+vm-42\s+\S+ \S+\s+\S.*\n/);
    expect(out).toMatch(/Would remove:\n {2}BACKUP\s+VM\s+CREATED\n {2}\S+\s+vm-42\s+\S+ \S+\n/);
    expect(out).toContain('Nothing was removed (dry run).\n');
    const available = JSON.parse(await vplusOk(['backup', 'list', '--destination', 'nas', '--json'], env)) as Backup[];
    expect(available.filter((b) => b.status === 'available')).toHaveLength(2);
  });

  it('prune --wait removes; gc --wait frees the space', async () => {
    const pruned = await vplusOk(['destination', 'prune', 'nas', '--retention', 'last=1', '--wait'], env);
    expect(pruned).toContain('Removed 1 backup, kept 1.\n');
    expect(pruned).toContain('Garbage collection frees their space: vplus destination gc nas.\n');

    const gc = await vplusOk(['destination', 'gc', 'nas', '--grace-hours', '0', '--wait'], env);
    expect(gc).toMatch(/Task \d+ \(GC destination:nas\) finished/);
    const freed = /Removed (\d+) unreferenced chunks?, freed ([\d.]+) (B|KiB|MiB)\./.exec(gc);
    expect(freed, gc).not.toBeNull();
    expect(Number(freed![1])).toBeGreaterThan(0);
    expect(gc).toMatch(/The destination now holds 1 backup: /);
  });

  it('show prints the usage history; rename and refresh work by name', async () => {
    const shown = await vplusOk(['destination', 'show', 'nas'], env);
    expect(shown).toMatch(/^Encrypted: +yes$/m);
    expect(shown).toMatch(/^Backups: +1$/m);
    expect(shown).toMatch(/^Stored over time: [▁▂▃▄▅▆▇█]+ {2}.*, \d+ points$/m);
    const json = JSON.parse(await vplusOk(['destination', 'show', 'nas', '--json'], env)) as Destination & { usage: unknown[] };
    expect(json.usage.length).toBeGreaterThanOrEqual(4);

    expect(await vplusOk(['destination', 'rename', 'nas', 'office-nas'], env)).toContain('Renamed destination nas to "office-nas".\n');
    const refreshed = await vplusOk(['destination', 'refresh', 'office-nas', '--wait'], env);
    expect(refreshed).toMatch(/Task \d+ \(DESTINATION_CHECK destination:office-nas\) finished/);
    expect(refreshed).toMatch(/Found an encrypted repository with 1 backup; \S+ \S+ free of \S+ \S+\.\n/);
  });

  it('remove refuses while backups are listed, says how to force it, and with --force forgets it; the data stays', async () => {
    const refused = await run(['destination', 'remove', 'office-nas']);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/error: the catalog lists \d+ backups on "office-nas".*; to do so, run vplus destination remove office-nas --force\n$/);

    const removed = await vplusOk(['destination', 'remove', 'office-nas', '--force'], env);
    expect(removed).toContain(`Removed destination "office-nas"; its data stays at ${repoPath} on node store-1`);
    expect(JSON.parse(await vplusOk(['destination', 'list', '--json'], env))).toEqual([]);
    expect(JSON.parse(await vplusOk(['backup', 'list', '--json'], env))).toEqual([]);
    expect(fs.existsSync(path.join(repoPath, 'config.json'))).toBe(true);
  });
});
