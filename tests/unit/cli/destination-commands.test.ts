import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Destination, TaskDetails } from '../../../common/api/index.js';
import {
  FakeTerminal,
  SAMPLE_STATS,
  removeTempDirs,
  runVplus,
  sampleBackup,
  sampleDestination,
  sampleLog,
  sampleTask,
  startFakeApi,
  tempDir,
  type FakeApiServer,
} from './helpers.js';

afterAll(removeTempDirs);

const TOKEN = 'good-token';
const MiB = 1024 ** 2;

/**
 * A fake server with the destination and backup routes. Task reads answer
 * from `tasks` (already ended, so --wait reads once and reports); there is no
 * events WebSocket, so the follower polls, as behind a proxy.
 */
describe('destination and backup commands against the API', () => {
  let api: FakeApiServer;
  let env: Record<string, string>;
  let tasks: Map<number, TaskDetails>;
  let nextCreate: { status: number; body?: unknown };
  let nextDelete: { status: number; body?: unknown };
  const requests = (): FakeApiServer['requests'] => api.requests.filter((r) => r.method !== 'UPGRADE');
  const last = (method: string): { url: string; body: Record<string, unknown> } => {
    const r = requests().filter((q) => q.method === method).at(-1)!;
    return { url: r.url, body: JSON.parse(r.body || '{}') as Record<string, unknown> };
  };
  const startedTask = (id: number, type: TaskDetails['type']): TaskDetails => ({ ...sampleTask({ id, type, subject: 'destination:nas', params: { destinationId: 3 } }), log: [] });

  beforeEach(async () => {
    tasks = new Map();
    nextCreate = { status: 201, body: sampleDestination({ backups: 0, storedBytes: 0, logicalBytes: 0, dedupRatio: null, compressionRatio: null }) };
    nextDelete = { status: 204 };
    api = await startFakeApi(({ method, url, authorization }) => {
      if (authorization !== `Bearer ${TOKEN}`) return { status: 401, body: { error: 'UNAUTHENTICATED', message: 'log in first' } };
      if (method === 'GET' && url === '/api/destinations') return { status: 200, body: [sampleDestination(), sampleDestination({ id: 4, name: 'usb', encrypted: false })] };
      if (method === 'POST' && url === '/api/destinations') return nextCreate;
      if (method === 'GET' && (url === '/api/destinations/nas' || url === '/api/destinations/3')) return { status: 200, body: sampleDestination() };
      if (method === 'GET' && url === '/api/destinations/3/usage') {
        return { status: 200, body: [1, 2, 3].map((n) => ({ at: `2025-01-0${n}T10:00:00.000Z`, storedBytes: n * 100 * MiB, logicalBytes: n * 300 * MiB, backups: n })) };
      }
      if (method === 'GET' && url.startsWith('/api/destinations/')) return { status: 404, body: { error: 'NOT_FOUND', message: 'there is no destination "nope"' } };
      if (method === 'PATCH' && url === '/api/destinations/nas') return { status: 200, body: sampleDestination({ name: 'nas-2' }) };
      if (method === 'DELETE' && url.startsWith('/api/destinations/3')) return nextDelete;
      const action = /^\/api\/destinations\/([^/]+)\/(verify|prune|gc|import|refresh)$/.exec(url);
      if (method === 'POST' && action && action[1] !== 'nas') return { status: 404, body: { error: 'NOT_FOUND', message: `there is no destination "${action[1]}"` } };
      if (method === 'POST' && action) {
        const [id, type] = ({ verify: [21, 'VERIFY'], prune: [22, 'PRUNE'], gc: [23, 'GC'], import: [24, 'REIMPORT'], refresh: [25, 'DESTINATION_CHECK'] } as const)[action[2] as 'verify'];
        return { status: 202, body: startedTask(id, type) };
      }
      if (method === 'GET' && url.startsWith('/api/backups')) {
        const backups = [sampleBackup(), sampleBackup({ id: 12, type: 'incremental', createdAt: '2025-01-30T10:00:00.000Z', storedBytes: 200 * MiB })];
        return { status: 200, body: { backups, nextCursor: url.includes('limit=2') ? '1738231200000.12' : null } };
      }
      const taskRead = /^\/api\/tasks\/(\d+)$/.exec(url);
      if (method === 'GET' && taskRead) {
        const task = tasks.get(Number(taskRead[1]));
        return task ? { status: 200, body: task } : { status: 404, body: { error: 'NOT_FOUND', message: `there is no task ${taskRead[1]}` } };
      }
      return { status: 404 };
    });
    const configFile = path.join(tempDir('dest'), 'cli.json');
    fs.writeFileSync(configFile, JSON.stringify({ server: api.url, fingerprint: api.fingerprint, token: TOKEN, user: 'admin' }), { mode: 0o600 });
    env = { VPLUS_CONFIG: configFile };
  });
  afterEach(async () => {
    await api.close();
  });

  const ended = (id: number, type: TaskDetails['type'], overrides: Partial<TaskDetails>): void => {
    tasks.set(id, {
      ...startedTask(id, type),
      state: 'FINISHED',
      attempt: 1,
      startedAt: '2025-01-31T10:00:00.000Z',
      finishedAt: '2025-01-31T10:00:02.000Z',
      ...overrides,
    });
  };

  describe('destination add', () => {
    it('without a password adds an unencrypted destination and says so', async () => {
      const run = await runVplus(['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas/vplus'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/destinations', body: { name: 'nas', node: 'n1', path: '/mnt/nas/vplus' } });
      expect(run.stderr).toBe(
        'note: "nas" stores backups unencrypted; encryption cannot be turned on later (add it with --password-stdin to encrypt).\nChecking /mnt/nas/vplus on node n1…\n',
      );
      expect(run.stdout).toBe('Added destination "nas" on node n1 at /mnt/nas/vplus (encrypted); 120 GiB free of 500 GiB.\n');
    });

    it('--s3 sends the bucket, the prefix and the secret key read from its file; the secret is never printed', async () => {
      const dir = tempDir('s3-add');
      fs.writeFileSync(path.join(dir, 'secret'), 's3-secret-key-1\n');
      const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      fs.writeFileSync(path.join(dir, 'ca.pem'), ca);
      nextCreate = {
        status: 201,
        body: sampleDestination({
          kind: 's3',
          path: 's3://backups/office at https://127.0.0.1:7480',
          s3: { endpoint: 'https://127.0.0.1:7480', region: 'us-east-1', bucket: 'backups', prefix: 'office', forcePathStyle: true, accessKeyId: 'AK1', customCa: true, lock: { mode: 'governance', days: 7 } },
          encrypted: false,
          backups: 0,
          freeBytes: null,
          totalBytes: null,
        }),
      };
      const argv = ['destination', 'add', 'offsite', '--node', 'n1', '--s3', 'https://127.0.0.1:7480/backups/office', '--access-key', 'AK1', '--secret-key-file', path.join(dir, 'secret')];
      const run = await runVplus([...argv, '--path-style', '--ca-file', path.join(dir, 'ca.pem'), '--lock', 'governance', '--lock-days', '7'], { env });
      expect(run.stderr).toContain('Checking https://127.0.0.1:7480/backups/office from node n1…');
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({
        url: '/api/destinations',
        body: {
          name: 'offsite',
          node: 'n1',
          s3: { endpoint: 'https://127.0.0.1:7480', region: 'us-east-1', bucket: 'backups', prefix: 'office', forcePathStyle: true, caPem: ca, lock: { mode: 'governance', days: 7 }, accessKeyId: 'AK1', secretAccessKey: 's3-secret-key-1' },
        },
      });
      expect(run.stdout).toBe('Added destination "nas" on node n1 at s3://backups/office at https://127.0.0.1:7480 (not encrypted).\n');
      expect(run.stdout + run.stderr).not.toContain('s3-secret-key-1');
      // From stdin with `-`.
      const piped = await runVplus([...argv.slice(0, -1), '-'], { env, stdin: 's3-secret-key-2\n' });
      expect(piped.code).toBe(0);
      expect((last('POST').body.s3 as { secretAccessKey: string }).secretAccessKey).toBe('s3-secret-key-2');
    });

    it('reads the password piped to stdin, warns that losing it loses the backups, and never prints it', async () => {
      const run = await runVplus(['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas/vplus', '--password-stdin', '--json'], { env, stdin: 'repo-secret-1\n' });
      expect(run.code).toBe(0);
      expect(last('POST').body).toEqual({ name: 'nas', node: 'n1', path: '/mnt/nas/vplus', password: 'repo-secret-1' });
      expect(run.stderr).toMatch(/^warning: keep a copy of this password somewhere safe: the backups on "nas" cannot be restored or re-imported without it; losing the password loses the backups\n/);
      expect((JSON.parse(run.stdout) as Destination).name).toBe('nas');
      expect(run.stdout + run.stderr).not.toContain('repo-secret-1');
    });

    it('on a terminal asks twice without echo; a mismatch or a short password exits 2 and sends nothing', async () => {
      const terminal = new FakeTerminal(['repo-secret-1', 'repo-secret-1']);
      const ok = await runVplus(['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas/vplus', '--password-stdin'], { env, terminal });
      expect(ok.code).toBe(0);
      expect(terminal.asked).toEqual(['Encryption password for nas: ', 'Repeat the password: ']);
      expect(last('POST').body.password).toBe('repo-secret-1');

      const before = requests().length;
      const mismatch = await runVplus(['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas/vplus', '--password-stdin'], { env, terminal: new FakeTerminal(['repo-secret-1', 'repo-secret-2']) });
      expect(mismatch.code).toBe(2);
      expect(mismatch.stderr).toMatch(/error: the two passwords do not match\n$/);
      const short = await runVplus(['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas/vplus', '--password-stdin'], { env, stdin: 'short\n' });
      expect(short.code).toBe(2);
      expect(short.stderr).toMatch(/error: invalid encryption password: the encryption password must be at least 8 characters\n$/);
      expect(requests().slice(before).some((r) => r.method === 'POST')).toBe(false);
    });

    it("a path the node refuses exits 1 with the node's reason", async () => {
      nextCreate = { status: 400, body: { error: 'DESTINATION_CHECK_FAILED', message: 'destination /mnt/nas/vplus does not exist on node n1; is the share mounted?', field: 'path' } };
      const run = await runVplus(['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas/vplus'], { env });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('error: destination /mnt/nas/vplus does not exist on node n1; is the share mounted?');
      nextCreate = { status: 409, body: { error: 'CONFLICT', message: 'node "n1" is offline; the path can only be checked on a running node', field: 'node' } };
      const offline = await runVplus(['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas/vplus'], { env });
      expect(offline.code).toBe(1);
      expect(offline.stderr).toMatch(/error: node "n1" is offline; the path can only be checked on a running node\n$/);
    });

    it('mentions backups already on the destination and how to import them', async () => {
      nextCreate = { status: 201, body: sampleDestination({ encrypted: false }) };
      const run = await runVplus(['destination', 'add', 'nas', '--node', 'n1', '--path', '/mnt/nas/vplus'], { env });
      expect(run.stdout).toBe(
        'Added destination "nas" on node n1 at /mnt/nas/vplus (not encrypted), holding 4 backups already; 120 GiB free of 500 GiB.\n' +
          'Bring them into the catalog with: vplus destination import nas\n',
      );
    });
  });

  describe('destination list / show / rename / remove', () => {
    it('list prints a table, and --json the destinations with every field', async () => {
      const table = await runVplus(['destination', 'list'], { env });
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^3\s+nas\s+n1\s+\/mnt\/nas\/vplus\s+yes\s+ok\s+4\s+12\.5 GiB\s+40\.0 GiB\s+3\.2×\s+1\.5×\s+120 GiB$/m);
      const json = JSON.parse((await runVplus(['destination', 'list', '--json'], { env })).stdout) as Destination[];
      expect(json.map((d) => [d.id, d.name, d.node, d.path, d.encrypted, d.storedBytes, d.logicalBytes])).toEqual([
        [3, 'nas', 'n1', '/mnt/nas/vplus', true, 12.5 * 1024 ** 3, 40 * 1024 ** 3],
        [4, 'usb', 'n1', '/mnt/nas/vplus', false, 12.5 * 1024 ** 3, 40 * 1024 ** 3],
      ]);
      expect(json[0]).toMatchObject({ dedupRatio: 3.24, compressionRatio: 1.5, freeBytes: 120 * 1024 ** 3, status: 'ok', backups: 4 });
    });

    it('show prints the fields and the usage history; --json adds the history to the object', async () => {
      const run = await runVplus(['destination', 'show', 'nas'], { env });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Name: +nas$/m);
      expect(run.stdout).toMatch(/^Compression: +1\.5×$/m);
      expect(run.stdout).toMatch(/^Stored over time: ▁▅█ {2}100 MiB \(.*\) → 300 MiB \(.*\), 3 points$/m);
      const json = JSON.parse((await runVplus(['destination', 'show', 'nas', '--json'], { env })).stdout) as Destination & { usage: { storedBytes: number }[] };
      expect(json).toMatchObject({ id: 3, name: 'nas' });
      expect(json.usage.map((p) => p.storedBytes)).toEqual([100 * MiB, 200 * MiB, 300 * MiB]);
      const missing = await runVplus(['destination', 'show', 'nope'], { env });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe('error: there is no destination "nope"\n');
    });

    it('rename', async () => {
      const run = await runVplus(['destination', 'rename', 'nas', 'nas-2'], { env });
      expect(run.stdout).toBe('Renamed destination nas to "nas-2".\n');
      expect(last('PATCH')).toEqual({ url: '/api/destinations/nas', body: { name: 'nas-2' } });
    });

    it('remove says the data stays; when backups are listed it says how to force it', async () => {
      const run = await runVplus(['destination', 'remove', 'nas'], { env });
      expect(run.code).toBe(0);
      expect(last('DELETE').url).toBe('/api/destinations/3');
      expect(run.stdout).toBe('Removed destination "nas"; its data stays at /mnt/nas/vplus on node n1 (to use it again, add it with the same path and run vplus destination import).\n');

      nextDelete = { status: 409, body: { error: 'CONFLICT', message: 'the catalog lists 4 backups on "nas"; remove it with force to forget them too (the data on the destination stays)' } };
      const refused = await runVplus(['destination', 'remove', 'nas'], { env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        'error: the catalog lists 4 backups on "nas"; remove it with force to forget them too (the data on the destination stays); to do so, run vplus destination remove nas --force\n',
      );
      nextDelete = { status: 204 };
      expect((await runVplus(['destination', 'remove', 'nas', '--force'], { env })).code).toBe(0);
      expect(last('DELETE').url).toBe('/api/destinations/3?force=true');
    });
  });

  describe('destination tasks', () => {
    it('verify sends the 0-based subset; without --wait says how to follow the task', async () => {
      const run = await runVplus(['destination', 'verify', 'nas', '--part', '2', '--of', '7'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/destinations/nas/verify', body: { subset: { part: 1, of: 7 } } });
      expect(run.stdout).toBe('Verifying destination nas (part 2 of 7): task 21.\nFollow it with: vplus task wait 21\n');
      await runVplus(['destination', 'verify', 'nas'], { env });
      expect(last('POST').body).toEqual({});
    });

    it('verify --wait prints each damaged chunk with the backups it affects, and exits 1', async () => {
      const chunk = 'c'.repeat(64);
      ended(21, 'VERIFY', {
        state: 'FAILED',
        error: '1 damaged chunk affects backup b-1; the other 1 backup is intact',
        warnings: [`chunk ${chunk} is damaged; used by 1 backup: b-1`],
        result: { checkedChunks: 9, checkedBytes: 36 * MiB, problems: [{ chunk, problem: 'corrupt: bad tag', backups: ['b-1'] }], affectedBackups: ['b-1'], stats: SAMPLE_STATS },
        log: [sampleLog(1, 'verifying every chunk in /mnt/nas/vplus'), sampleLog(2, `chunk ${chunk} is damaged; used by 1 backup: b-1`, 'error')],
      });
      const run = await runVplus(['destination', 'verify', 'nas', '--wait'], { env });
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('Checked 9 chunks (36.0 MiB): 1 damaged chunk affects 1 backup.\nDamaged chunks → the backups that need them:\n');
      expect(run.stdout).toContain(`  ${chunk} → b-1  (corrupt: bad tag)\n`);
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('error: task 21 (VERIFY destination:nas) failed: 1 damaged chunk affects backup b-1; the other 1 backup is intact');
    });

    it('prune maps the retention spec and sends dryRun explicitly; --wait prints kept (with reasons) and removed', async () => {
      const run = await runVplus(['destination', 'prune', 'nas', '--retention', 'last=3 daily=14 maxage=365'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/destinations/nas/prune', body: { retention: { keepLast: 3, daily: 14, maxAgeDays: 365 }, dryRun: false } });
      expect(run.stdout.split('\n')[0]).toBe('Pruning destination nas to last=3 daily=14 maxage=365: task 22.');

      ended(22, 'PRUNE', {
        result: {
          dryRun: true,
          kept: [{ id: 'b-2', createdAt: '2025-01-31T10:00:00.000Z', group: 'vm-42', reasons: ['last 1'] }],
          removed: [{ id: 'b-1', createdAt: '2025-01-30T10:00:00.000Z', group: 'vm-42' }],
          stats: SAMPLE_STATS,
        },
      });
      const dry = await runVplus(['destination', 'prune', 'nas', '--retention', 'last=1', '--dry-run', '--wait'], { env });
      expect(dry.code).toBe(0);
      expect(last('POST').body).toEqual({ retention: { keepLast: 1 }, dryRun: true });
      const lines = dry.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('Pruning destination nas to last=1 (dry run): task 22.');
      expect(lines[1]).toBe('Task 22 (PRUNE destination:nas) finished in 2s.');
      expect(lines[2]).toBe('Dry run: would remove 1 backup and keep 1.');
      expect(dry.stdout).toMatch(/^Would keep:\n {2}BACKUP\s+VM\s+CREATED\s+KEPT BY\n {2}b-2\s+vm-42\s+\S+ \S+\s+last 1\n/m);
      expect(dry.stdout).toMatch(/^Would remove:\n {2}BACKUP\s+VM\s+CREATED\n {2}b-1\s+vm-42\s+\S+ \S+\nNothing was removed \(dry run\)\.\n/m);
    });

    it('gc sends the grace period and --wait prints the space freed', async () => {
      ended(23, 'GC', { result: { removedChunks: 5, freedBytes: 20 * MiB, stats: SAMPLE_STATS } });
      const run = await runVplus(['destination', 'gc', 'nas', '--grace-hours', '1.5', '--wait'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/destinations/nas/gc', body: { graceHours: 1.5 } });
      expect(run.stdout).toContain('Collecting garbage on destination nas: task 23.\nTask 23 (GC destination:nas) finished in 2s.\nRemoved 5 unreferenced chunks, freed 20.0 MiB.\n');
      await runVplus(['destination', 'gc', 'nas'], { env });
      expect(last('POST').body).toEqual({});
    });

    it('import --wait prints how many backups were found; warnings go to stderr', async () => {
      const backup = (id: string) => ({ id, createdAt: '2025-01-31T10:00:00.000Z', group: 'vm-42', logicalBytes: 6 * MiB, disks: [{ name: 'vda', size: 6 * MiB }] });
      ended(24, 'REIMPORT', {
        state: 'FINISHED_WITH_WARNINGS',
        warnings: ['1 backup manifest in /mnt/nas/vplus cannot be read and was left out; run verify'],
        result: { backups: [backup('b-1'), backup('b-2')], stats: SAMPLE_STATS },
      });
      const run = await runVplus(['destination', 'import', 'nas', '--wait'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/destinations/nas/import', body: {} });
      expect(run.stdout).toContain('Found 2 backups of 1 VM (12.0 MiB of disks) on the destination; they are added to the catalog.\nSee them with: vplus backup list --destination nas\n');
      expect(run.stderr).toContain('warning: 1 backup manifest in /mnt/nas/vplus cannot be read and was left out; run verify\n');
    });

    it('refresh --wait prints what the check found', async () => {
      ended(25, 'DESTINATION_CHECK', { result: { created: false, encrypted: true, freeBytes: 100 * 1024 ** 3, totalBytes: 200 * 1024 ** 3, stats: SAMPLE_STATS } });
      const run = await runVplus(['destination', 'refresh', 'nas', '--wait'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/destinations/nas/refresh', body: {} });
      expect(run.stdout).toContain('Found an encrypted repository with 2 backups; 100 GiB free of 200 GiB.\n');
    });

    it('an unknown destination exits 1 with the server sentence', async () => {
      const run = await runVplus(['destination', 'gc', 'nope'], { env });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe('error: there is no destination "nope"\n');
    });
  });

  describe('backup list', () => {
    it('passes the VM and destination as filters and prints a table; --json the backups', async () => {
      const run = await runVplus(['backup', 'list', 'prod-db', '--destination', 'nas'], { env });
      expect(run.code).toBe(0);
      expect(last('GET').url).toBe('/api/backups?vm=prod-db&destination=nas');
      expect(run.stdout).toMatch(/^ID\s+VM\s+TYPE\s+CREATED\s+STATUS\s+LOGICAL\s+STORED\s+DESTINATION$/m);
      expect(run.stdout).toMatch(/^12\s+prod-db\s+incremental\s+\S+ \S+\s+available\s+10\.0 GiB\s+200 MiB\s+nas$/m);
      const json = JSON.parse((await runVplus(['backup', 'list', '--json'], { env })).stdout) as Record<string, unknown>[];
      expect(last('GET').url).toBe('/api/backups');
      expect(json[0]).toMatchObject({ id: 11, vm: 'prod-db', type: 'full', createdAt: '2025-01-31T10:00:00.000Z', status: 'available', logicalBytes: 10 * 1024 ** 3, storedBytes: 3 * 1024 ** 3, destination: 'nas' });
    });

    it('says how to ask for the page after, and asks for it', async () => {
      const run = await runVplus(['backup', 'list', '--limit', '2'], { env });
      expect(last('GET').url).toBe('/api/backups?limit=2');
      expect(run.stderr).toBe('There are older backups: add --cursor 1738231200000.12 for the next 2.\n');
      const next = await runVplus(['backup', 'list', '--cursor', '1738231200000.12'], { env });
      expect(next.code).toBe(0);
      expect(last('GET').url).toBe('/api/backups?cursor=1738231200000.12');
      expect(next.stderr).toBe('');
    });
  });
});
