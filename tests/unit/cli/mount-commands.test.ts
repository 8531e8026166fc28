import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrowseEntry, Mount, TaskDetails } from '../../../common/api/index.js';
import { removeTempDirs, runVplus, sampleTask, startFakeApi, tempDir, type FakeApiServer } from './helpers.js';
import { sampleEntry, sampleMount } from './mount-samples.js';

afterAll(removeTempDirs);

const TOKEN = 'good-token';
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * A fake server with the mount routes. Each mount read answers with the next
 * of its states (the last repeats); there is no events WebSocket, so the
 * followers poll, as behind a proxy.
 */
describe('mount commands against the API', () => {
  let api: FakeApiServer;
  let env: Record<string, string>;
  let mountReads: Mount[];
  let taskReads: TaskDetails[];
  let folder: BrowseEntry[];
  let file: Buffer;
  let fileChunks: Buffer[];
  let statSize: number;
  const requests = (): FakeApiServer['requests'] => api.requests.filter((r) => r.method !== 'UPGRADE');
  const last = (method: string): { url: string; body: Record<string, unknown> } => {
    const r = requests().filter((q) => q.method === method).at(-1)!;
    return { url: r.url, body: JSON.parse(r.body || '{}') as Record<string, unknown> };
  };
  const urls = (prefix: string): string[] => requests().map((r) => r.url).filter((u) => u.startsWith(prefix));

  beforeEach(async () => {
    mountReads = [sampleMount()];
    taskReads = [{ ...sampleTask({ id: 45, type: 'MOUNT', subject: 'backup:14', state: 'RUNNING', startedAt: '2025-01-31T13:00:00.000Z' }), log: [] }];
    folder = [sampleEntry({ name: 'etc', type: 'dir', mode: 0o755, size: 4096 }), sampleEntry({ name: 'hosts' })];
    file = Buffer.from('127.0.0.1 localhost\n'.repeat(5000));
    fileChunks = [file.subarray(0, 40_000), file.subarray(40_000)];
    statSize = file.length;
    api = await startFakeApi(({ method, url, authorization }) => {
      if (authorization !== `Bearer ${TOKEN}`) return { status: 401, body: { error: 'UNAUTHENTICATED', message: 'log in first' } };
      const u = new URL(url, 'https://x');
      const q = (key: string): string | null => u.searchParams.get(key);
      if (method === 'POST' && url === '/api/mounts') return { status: 202, body: sampleMount({ state: 'MOUNTING', filesystems: [], expiresAt: null }) };
      if (method === 'POST' && url === '/api/mounts/iscsi') {
        const mount = sampleMount({ id: 4, kind: 'iscsi', state: 'MOUNTING', filesystems: [], iscsi: { disk: 'vda', portal: '10.0.0.1:3260', target: 'iqn.2025-01.io.vplus:mount-4', lun: 1, initiatorNames: [], initiatorAddresses: ['10.0.0.5'], chapUser: 'vplus4' } });
        return { status: 202, body: { mount, portal: '10.0.0.1:3260', target: 'iqn.2025-01.io.vplus:mount-4', lun: 1, chapUser: 'vplus4', chapPassword: 'S3cret-pass' } };
      }
      if (method === 'GET' && u.pathname === '/api/mounts') return { status: 200, body: q('active') === 'true' ? [sampleMount()] : [sampleMount(), sampleMount({ id: 2, state: 'CLOSED' })] };
      if (u.pathname === '/api/mounts/9' || u.pathname.startsWith('/api/mounts/9/')) return { status: 404, body: { error: 'NOT_FOUND', message: 'there is no mount 9' } };
      if (method === 'GET' && url === '/api/mounts/3') return { status: 200, body: mountReads.length > 1 ? mountReads.shift() : mountReads[0] };
      if (method === 'POST' && url === '/api/mounts/3/extend') return { status: 200, body: sampleMount({ idleSeconds: 4 * 3600 }) };
      if (method === 'DELETE' && url === '/api/mounts/3') return { status: 202, body: sampleMount({ state: 'CLOSING' }) };
      if (method === 'GET' && url === '/api/tasks/45') return { status: 200, body: taskReads.length > 1 ? taskReads.shift() : taskReads[0] };
      if (method === 'GET' && u.pathname === '/api/mounts/3/files') {
        const offset = Number(q('offset') ?? 0);
        const limit = Number(q('limit') ?? 500);
        const p = q('path') ?? '';
        if (p === 'vda1/nope') return { status: 404, body: { error: 'NOT_FOUND', message: '/vda1/nope does not exist', path: 'vda1/nope' } };
        const entries = p === '' ? [sampleEntry({ name: 'vda1', type: 'dir', mode: 0o755 }), sampleEntry({ name: 'vda2', type: 'other', mode: 0o555 })] : folder;
        return { status: 200, body: { path: p, entries: entries.slice(offset, offset + limit), total: entries.length, truncated: false } };
      }
      if (method === 'GET' && u.pathname === '/api/mounts/3/stat') {
        const p = q('path')!;
        const dir = p === 'vda1/etc';
        return { status: 200, body: { ...sampleEntry({ name: path.posix.basename(p), type: dir ? 'dir' : 'file', size: dir ? 4096 : statSize }), path: p } };
      }
      if (method === 'GET' && u.pathname === '/api/mounts/3/content') return { status: 200, raw: fileChunks, headers: { 'content-type': 'application/octet-stream' } };
      if (method === 'GET' && u.pathname === '/api/mounts/3/zip') return { status: 200, raw: [Buffer.from('PK\x03\x04zipdata')], headers: { 'content-type': 'application/zip' } };
      if (method === 'GET' && u.pathname === '/api/mounts/3/search') {
        return { status: 200, body: { hits: [{ ...sampleEntry(), path: 'vda1/etc/hosts' }], visited: 1234, truncated: q('limit') === '1' } };
      }
      if (method === 'POST' && url === '/api/mounts/3/restore') return { status: 202, body: sampleTask({ id: 51, type: 'FILE_RESTORE', subject: 'backup:14' }) };
      if (method === 'GET' && url === '/api/tasks/51') {
        const result = { directory: '/srv/restore', entries: 12, bytes: 3 * 1024 ** 2, skipped: ['vda1/dev/null'] };
        return { status: 200, body: { ...sampleTask({ id: 51, type: 'FILE_RESTORE', subject: 'backup:14', state: 'FINISHED', startedAt: '2025-01-31T13:00:00.000Z', finishedAt: '2025-01-31T13:00:03.000Z', result }), log: [] } };
      }
      return { status: 404 };
    });
    const configFile = path.join(tempDir('mount'), 'cli.json');
    fs.writeFileSync(configFile, JSON.stringify({ server: api.url, fingerprint: api.fingerprint, token: TOKEN, user: 'admin' }), { mode: 0o600 });
    env = { VPLUS_CONFIG: configFile };
  });
  afterEach(async () => {
    await api.close();
  });

  describe('start, wait, list, show', () => {
    it('start sends the backup, disks, overlay and idle timeout and says how to wait', async () => {
      const run = await runVplus(['mount', 'start', '14', '--disk', 'vda', '--disk', 'vdb', '--no-overlay', '--idle', '30m'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/mounts', body: { backup: 14, disks: ['vda', 'vdb'], overlay: false, idleSeconds: 1800 } });
      expect(run.stdout).toMatch(/^Mount 3 \(backup 14 of prod-db, \S+ \S+\), disks vda: mounting on node n1 \(task 45\)\.\nWait until it is ready with: vplus mount wait 3\n$/);
      await runVplus(['mount', 'start', '14'], { env });
      expect(last('POST').body).toEqual({ backup: 14, overlay: true });
    });

    it('start --wait follows the MOUNT task until the mount is ready, then prints its filesystems', async () => {
      mountReads = [sampleMount({ state: 'MOUNTING', filesystems: [] }), sampleMount()];
      const run = await runVplus(['mount', 'start', '14', '--wait'], { env });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('Task 45 (MOUNT backup:14) is running on node n1.\n');
      expect(run.stdout).toMatch(/Mount 3 is ready on node n1; it closes after 2h 00m unused \(at \S+ \S+ unless it is used\)\.\n/);
      expect(run.stdout).toMatch(/^vda1\s+vda\s+partition\s+ext4\s+root\s+30\.0 MiB\s+yes$/m);
      expect(run.stdout).toMatch(/^vda2\s+.*no: swap holds no files$/m);
      expect(run.stdout).toMatch(/Browse it with: vplus mount ls 3 \/vda1\n$/);
      expect(urls('/api/mounts/3').length).toBeGreaterThanOrEqual(2);
    }, 15_000);

    it('start --wait --json prints only the ready mount on stdout', async () => {
      mountReads = [sampleMount({ state: 'MOUNTING' }), sampleMount()];
      const run = await runVplus(['mount', 'start', '14', '--wait', '--json'], { env });
      expect(run.code).toBe(0);
      expect((JSON.parse(run.stdout) as Mount).state).toBe('MOUNTED');
      expect(run.stderr).toContain('mounting on node n1 (task 45).');
    }, 15_000);

    it('a mount that fails exits 1 with its error', async () => {
      mountReads = [sampleMount({ state: 'FAILED', error: 'no filesystem could be mounted: the backup is damaged' })];
      const run = await runVplus(['mount', 'wait', '3'], { env });
      expect(run.code).toBe(1);
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe('error: mount 3 failed: no filesystem could be mounted: the backup is damaged');
    });

    it('list shows the active mounts (--all every one); show a mount with its filesystems', async () => {
      const run = await runVplus(['mount', 'list'], { env });
      expect(run.code).toBe(0);
      expect(urls('/api/mounts')).toEqual(['/api/mounts?active=true']);
      expect(run.stdout).toMatch(/^3\s+browse\s+14\s+prod-db\s+\S+ \S+\s+n1\s+MOUNTED\s+/m);
      const all = JSON.parse((await runVplus(['mount', 'list', '--all', '--json'], { env })).stdout) as Mount[];
      expect(all.map((m) => [m.id, m.state])).toEqual([
        [3, 'MOUNTED'],
        [2, 'CLOSED'],
      ]);
      const shown = await runVplus(['mount', 'show', '3'], { env });
      expect(shown.stdout).toMatch(/^Backup: +14 of prod-db, taken \S+ \S+, on destination nas$/m);
      expect(shown.stdout).toMatch(/^vda1\s+vda\s+partition\s+ext4/m);
    });

    it('an unknown mount exits 1 with the server\'s reason; a bad id exits 2', async () => {
      const run = await runVplus(['mount', 'show', '9'], { env });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe('error: there is no mount 9\n');
      expect((await runVplus(['mount', 'show', 'x'], { env })).code).toBe(2);
      expect((await runVplus(['mount', 'start', '14', '--idle', '10s'], { env })).code).toBe(2);
    });
  });

  describe('ls, find', () => {
    it('ls pages through a folder; the leading "/" is optional; --limit stops early', async () => {
      folder = Array.from({ length: 5003 }, (_, i) => sampleEntry({ name: `f${String(i).padStart(5, '0')}` }));
      const run = await runVplus(['mount', 'ls', '3', '/vda1/etc/', '--json'], { env });
      expect(run.code).toBe(0);
      expect((JSON.parse(run.stdout) as BrowseEntry[]).length).toBe(5003);
      expect(urls('/api/mounts/3/files')).toEqual(['/api/mounts/3/files?path=vda1%2Fetc&offset=0&limit=5000', '/api/mounts/3/files?path=vda1%2Fetc&offset=5000&limit=5000']);
      const limited = await runVplus(['mount', 'ls', '3', 'vda1/etc', '--limit', '2'], { env });
      expect(limited.stdout.split('\n').filter((l) => /^file /.test(l))).toHaveLength(2);
      expect(limited.stderr).toBe('Showing 2 of 5003 entries; see more with a larger --limit.\n');
    });

    it('ls of the root lists the filesystems and says which cannot be browsed', async () => {
      const run = await runVplus(['mount', 'ls', '3'], { env });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^dir\s+rwxr-xr-x\s+root:root\s+-\s+\S+ \S+\s+vda1$/m);
      expect(run.stderr).toBe('vda2 cannot be browsed: swap holds no files\n');
    });

    it("a path that is not there exits 1 with the node's reason", async () => {
      const run = await runVplus(['mount', 'ls', '3', '/vda1/nope'], { env });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe('error: /vda1/nope does not exist\n');
    });

    it('find searches under --path and prints the hits with their paths; a cut-short search says so', async () => {
      const run = await runVplus(['mount', 'find', '3', '*.conf', '--path', '/vda1/etc'], { env });
      expect(run.code).toBe(0);
      expect(urls('/api/mounts/3/search')).toEqual(['/api/mounts/3/search?path=vda1%2Fetc&pattern=*.conf&limit=500']);
      expect(run.stdout).toMatch(/\s\/vda1\/etc\/hosts$/m);
      const cut = await runVplus(['mount', 'find', '3', 'hosts', '--limit', '1'], { env });
      expect(cut.stderr).toBe('The search stopped early after 1 hits and 1234 entries looked at; narrow it with --path or a longer pattern.\n');
      // From the root: each browsable filesystem in turn (vda2 is swap).
      expect(urls('/api/mounts/3/search').slice(1)).toEqual(['/api/mounts/3/search?path=vda1&pattern=hosts&limit=1']);
    });
  });

  describe('get', () => {
    it('writes a file as it is, with the size from stat; refuses to overwrite without --force', async () => {
      const dir = tempDir('get');
      const run = await runVplus(['mount', 'get', '3', '/vda1/etc/hosts', '--output', dir], { env });
      expect(run.code).toBe(0);
      const saved = path.join(dir, 'hosts');
      expect(sha256(fs.readFileSync(saved))).toBe(sha256(file));
      expect(run.stdout).toBe(`Saved /vda1/etc/hosts to ${saved} (97.7 KiB).\n`);
      expect(run.stderr).toMatch(/^hosts: 100%, 97\.7 KiB of 97\.7 KiB, /m);
      expect(urls('/api/mounts/3/content')).toEqual(['/api/mounts/3/content?path=vda1%2Fetc%2Fhosts&download=1']);
      expect(fs.readdirSync(dir)).toEqual(['hosts']);

      const again = await runVplus(['mount', 'get', '3', '/vda1/etc/hosts', '--output', saved], { env });
      expect(again.code).toBe(1);
      expect(again.stderr).toBe(`error: ${saved} exists already; give --force to replace it, or another name with --output\n`);
      fs.writeFileSync(saved, 'old');
      expect((await runVplus(['mount', 'get', '3', '/vda1/etc/hosts', '--output', saved, '--force'], { env })).code).toBe(0);
      expect(fs.readFileSync(saved).equals(file)).toBe(true);
    });

    it('a folder comes as a zip named after it', async () => {
      const dir = tempDir('get');
      const run = await runVplus(['mount', 'get', '3', 'vda1/etc', '--output', dir], { env });
      expect(run.code).toBe(0);
      expect(urls('/api/mounts/3/zip')).toEqual(['/api/mounts/3/zip?path=vda1%2Fetc']);
      expect(fs.readFileSync(path.join(dir, 'etc.zip'), 'latin1')).toBe('PK\x03\x04zipdata');
      expect(run.stdout).toBe(`Saved /vda1/etc as a zip to ${path.join(dir, 'etc.zip')} (11 B).\n`);
    });

    it('a download that ends short writes nothing', async () => {
      const dir = tempDir('get');
      statSize = file.length + 10;
      const run = await runVplus(['mount', 'get', '3', '/vda1/etc/hosts', '--output', dir], { env });
      expect(run.code).toBe(1);
      expect(run.stderr.trimEnd().split('\n').at(-1)).toBe(`error: the download broke off after 97.7 KiB (${file.length} bytes arrived of the ${file.length + 10} expected); ${path.join(dir, 'hosts')} was not written, try again`);
      expect(fs.readdirSync(dir)).toEqual([]);
    });
  });

  describe('restore, iscsi, extend, stop', () => {
    it('restore starts a FILE_RESTORE; --wait prints what it restored', async () => {
      const run = await runVplus(['mount', 'restore', '3', '/vda1/etc', '/vda1/home/ann/', '--path', '/srv/restore', '--overwrite', '--wait'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/mounts/3/restore', body: { paths: ['vda1/etc', 'vda1/home/ann'], path: '/srv/restore', overwrite: true } });
      expect(run.stdout).toContain('Restoring 2 paths from mount 3 to /srv/restore on node n1: task 51.\n');
      expect(run.stdout).toContain('Task 51 (FILE_RESTORE backup:14) finished in 3s.\nRestored 12 entries (3.00 MiB) to /srv/restore on node n1.\n');
      expect(run.stdout).toContain('  vda1/dev/null\n');
      expect((await runVplus(['mount', 'restore', '3', '/vda1/etc'], { env })).code).toBe(2);
    });

    it('iscsi prints the portal, target and CHAP credentials once, and says so on stderr', async () => {
      const run = await runVplus(['mount', 'iscsi', '14', '--disk', 'vda', '--allow-address', '10.0.0.5'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/mounts/iscsi', body: { backup: 14, disk: 'vda', initiatorNames: [], initiatorAddresses: ['10.0.0.5'] } });
      expect(run.stdout).toMatch(/^Portal: +10\.0\.0\.1:3260$/m);
      expect(run.stdout).toMatch(/^CHAP password: +S3cret-pass$/m);
      expect(run.stderr).toContain('The CHAP password is shown only now: the server does not keep it.');
      const json = JSON.parse((await runVplus(['mount', 'iscsi', '14', '--disk', 'vda', '--initiator', 'iqn.2024-01.com.example:h1', '--json'], { env })).stdout) as Record<string, unknown>;
      expect(json).toMatchObject({ id: 4, portal: '10.0.0.1:3260', target: 'iqn.2025-01.io.vplus:mount-4', lun: 1, chapUser: 'vplus4', chapPassword: 'S3cret-pass' });
      const open = await runVplus(['mount', 'iscsi', '14', '--disk', 'vda'], { env });
      expect(open.code).toBe(2);
    });

    it("extend keeps the mount's idle timeout unless given one", async () => {
      const run = await runVplus(['mount', 'extend', '3'], { env });
      expect(run.code).toBe(0);
      expect(last('POST')).toEqual({ url: '/api/mounts/3/extend', body: { idleSeconds: 7200 } });
      await runVplus(['mount', 'extend', '3', '--idle', '4h'], { env });
      expect(last('POST').body).toEqual({ idleSeconds: 14_400 });
    });

    it('stop closes the mount; --wait until it is closed', async () => {
      const run = await runVplus(['mount', 'stop', '3'], { env });
      expect(run.code).toBe(0);
      expect(last('DELETE').url).toBe('/api/mounts/3');
      expect(run.stdout).toMatch(/^Closing mount 3 \(backup 14 of prod-db, \S+ \S+\) on node n1\.\n$/);
      mountReads = [sampleMount({ state: 'CLOSING' }), sampleMount({ state: 'CLOSED', closedAt: '2025-01-31T14:00:00.000Z' })];
      const waited = await runVplus(['mount', 'stop', '3', '--wait'], { env });
      expect(waited.code).toBe(0);
      expect(waited.stdout).toMatch(/is closed\.\n$/);
    }, 15_000);
  });
});
