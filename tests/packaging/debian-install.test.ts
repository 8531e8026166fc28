import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DebianContainer, ensureDebianImage, requireContainerTools, type HttpsResponse } from './debian-container.js';
import { buildPackages, requirePackagingTools, versions, type BuiltPackages } from './packaging-kit.js';

/**
 * The packages on a clean Debian system, as an admin uses them: `apt install` of
 * the .deb (dependencies from Debian), first run with the setup code, a node on
 * that computer, an upgrade, remove, reinstall and purge; then the .run on a
 * fresh system. Each step is checked from inside: systemd's view, the processes,
 * the files, and the server over HTTPS on the container's own loopback.
 */
const URL = 'https://localhost:8181';
const PASSWORD = 'admin-password-1';
const timings: string[] = [];
const log = (line: string): void => {
  timings.push(line);
};

/** What the postinst printed: where the server answers, its fingerprint, and the setup code (first install only). */
function firstRunInfo(output: string): { url?: string; fingerprint?: string; setupCode?: string } {
  return {
    url: /vPlus server is running: (https:\/\/\S+)/.exec(output)?.[1],
    fingerprint: /Certificate SHA-256 fingerprint: ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})/.exec(output)?.[1],
    setupCode: /First-run setup code: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})/.exec(output)?.[1],
  };
}

function ok(res: HttpsResponse): { status: number; body: Record<string, unknown>; fingerprint: string } {
  if ('error' in res) throw new Error(`the server did not answer: ${res.error}`);
  return res as { status: number; body: Record<string, unknown>; fingerprint: string };
}

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    log(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

let work: string;
let image: string;
let packages: { current: BuiltPackages; next: BuiltPackages };
const { current, next } = versions();

beforeAll(async () => {
  requirePackagingTools();
  requireContainerTools();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-debian-'));
  const out = path.join(work, 'packages');
  const built = await timed('building the packages', async () => ({
    current: await buildPackages(out, { version: current }),
    next: await buildPackages(out, { version: next, run: false }),
  }));
  packages = built;
  image = await timed('the Debian image (cached after the first run)', () => ensureDebianImage(log));
});

afterAll(() => {
  console.log(`packaging on Debian, timings:\n  ${timings.join('\n  ')}`);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the .deb on a clean Debian system: install, first run, node, upgrade, remove, reinstall, purge', () => {
  let box: DebianContainer;
  let fingerprint: string;
  let setupCode: string;
  const deb = (p: BuiltPackages): string => `/pkg/${path.basename(p.deb)}`;
  const login = (): Promise<string> =>
    box.ok(['vplus', 'login', '--server', URL, '--user', 'admin', '--password-stdin', '--fingerprint', fingerprint], { input: `${PASSWORD}\n` });
  const stray = async (): Promise<string[]> =>
    (await box.processes()).filter((p) => p.comm === 'mariadbd' || p.comm === 'node' || p.user === 'vplus').map((p) => `${p.comm} (${p.user})`);

  beforeAll(async () => {
    box = await timed('booting a fresh system', () =>
      DebianContainer.boot({ image, workDir: work, packagesDir: path.dirname(packages.current.deb), deb: packages.current.deb, log }),
    );
  });
  afterAll(async () => {
    await box?.destroy();
  });

  it('apt installs it with its dependencies from Debian; vplus.service is enabled and running as vplus; the postinst prints the URL, fingerprint and setup code', async () => {
    const out = await timed('apt install (first run included)', () => box.ok(['apt-get', 'install', '-y', '-q', deb(packages.current)], { timeoutMs: 300_000 }));
    expect(out).toMatch(/Setting up mariadb-server-core/);
    const info = firstRunInfo(out);
    expect(info.url).toBe('https://vplus-test:8181');
    expect(info.fingerprint).toBeDefined();
    expect(info.setupCode).toBeDefined();
    fingerprint = info.fingerprint!;

    expect((await box.exec(['systemctl', 'is-enabled', 'vplus.service'])).stdout.trim()).toBe('enabled');
    expect((await box.exec(['systemctl', 'is-active', 'vplus.service'])).stdout.trim()).toBe('active');
    expect((await box.ok(['stat', '-c', '%a %U %G', '/var/lib/vplus'])).trim()).toBe('700 vplus vplus');
    expect(await box.ok(['getent', 'passwd', 'vplus'])).toMatch(/^vplus:x:\d+:\d+:[^:]*:\/var\/lib\/vplus:\/usr\/sbin\/nologin$/m);
    // The server, its MariaDB and nothing else of ours run, all as vplus.
    const ours = (await box.processes()).filter((p) => p.comm === 'node' || p.comm === 'mariadbd');
    expect(ours.map((p) => p.comm).sort()).toEqual(['mariadbd', 'node']);
    expect(ours.every((p) => p.user === 'vplus')).toBe(true);

    const health = ok(await box.https({ url: `${URL}/api/health` }));
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', version: current, setupRequired: true, setupCodeFile: '/var/lib/vplus/setup-code' });
    // The fingerprint printed is the one the server presents.
    expect(health.fingerprint).toBe(fingerprint);
    expect(ok(await box.https({ url: `${URL}/` })).body).toMatch(/<html/i);
    // The log goes to the journal and to the data dir.
    expect(await box.ok(['journalctl', '-u', 'vplus.service', '--no-pager'])).toContain('vPlus server ready');
    expect(await box.ok(['cat', '/var/lib/vplus/logs/server.log'])).toContain('vPlus server ready');
    expect((await box.ok(['vplus', '--help'])).length).toBeGreaterThan(0);
    setupCode = info.setupCode!;
  });

  it('refuses setup without the setup code or with a wrong one; completes it with the printed code; the admin signs in', async () => {
    const body = { username: 'admin', password: PASSWORD };
    const without = ok(await box.https({ url: `${URL}/api/setup`, method: 'POST', body }));
    expect(without.status).toBe(400);
    expect(without.body).toMatchObject({ field: 'setupCode' });
    const wrong = ok(await box.https({ url: `${URL}/api/setup`, method: 'POST', body: { ...body, setupCode: 'AAAA-BBBB-CCCC' } }));
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ error: 'SETUP_CODE_WRONG' });
    expect(ok(await box.https({ url: `${URL}/api/health` })).body).toMatchObject({ setupRequired: true });

    const done = ok(await box.https({ url: `${URL}/api/setup`, method: 'POST', body: { ...body, setupCode } }));
    expect(done.status).toBe(201);
    expect((await box.exec(['test', '-e', '/var/lib/vplus/setup-code'])).code).not.toBe(0);
    expect(await login()).toContain('Logged in');
    expect(await box.ok(['vplus', 'status'])).toMatch(new RegExp(`Version:\\s+${current.replaceAll('.', '\\.')}`));
  });

  it('installs a node on that computer (the server supervises it as vplus) and runs a node check on it', async () => {
    const install = await timed('node install --local', () => box.ok(['vplus', 'node', 'install', '--local', '--name', 'this-computer', '--wait'], { timeoutMs: 180_000 }));
    expect(install).toMatch(/Node "this-computer" is online/);
    const [node] = JSON.parse(await box.ok(['vplus', 'node', 'list', '--json'])) as { name: string; status: string; installMethod: string; version: string }[];
    expect(node).toMatchObject({ name: 'this-computer', status: 'online', installMethod: 'local-supervised', version: current });
    const check = await timed('node check', () => box.ok(['vplus', 'node', 'check', 'this-computer', '--sample-mib', '16', '--wait'], { timeoutMs: 180_000 }));
    expect(check).toMatch(/NODE_CHECK node:this-computer\) finished/);
    expect(check).toContain('/var/lib/vplus/nodes/this-computer/staging');
  });

  it('upgrades to the next version: the new server runs on the kept catalog; the admin signs in again; the node is back', async () => {
    const out = await timed('apt upgrade', () => box.ok(['apt-get', 'install', '-y', '-q', deb(packages.next)], { timeoutMs: 300_000 }));
    expect(out).toContain(`Unpacking vplus (${next}) over (${current})`);
    const info = firstRunInfo(out);
    expect(info.fingerprint).toBe(fingerprint);
    expect(info.setupCode).toBeUndefined();
    expect((await box.exec(['systemctl', 'is-active', 'vplus.service'])).stdout.trim()).toBe('active');
    expect(ok(await box.https({ url: `${URL}/api/health` })).body).toMatchObject({ version: next, setupRequired: false });
    expect(await login()).toContain('Logged in');
    expect(await box.ok(['vplus', 'status'])).toMatch(new RegExp(`Version:\\s+${next.replaceAll('.', '\\.')}`));
    const nodes = JSON.parse(await box.ok(['vplus', 'node', 'list', '--json'])) as { name: string }[];
    expect(nodes.map((n) => n.name)).toEqual(['this-computer']);
  });

  it('removes it: the service is gone, nothing of it runs, the port is closed; the data and the account are kept', async () => {
    await timed('apt remove', () => box.ok(['apt-get', 'remove', '-y', '-q', 'vplus']));
    expect((await box.exec(['systemctl', 'is-active', 'vplus.service'])).stdout.trim()).toBe('inactive');
    expect((await box.ok(['systemctl', 'show', '-p', 'LoadState', '--value', 'vplus.service'])).trim()).toMatch(/^(masked|not-found)$/);
    for (const gone of ['/lib/systemd/system/vplus.service', '/opt/vplus', '/usr/bin/vplus']) {
      expect((await box.exec(['test', '-e', gone])).code, gone).not.toBe(0);
    }
    expect(await stray()).toEqual([]);
    expect(await box.https({ url: `${URL}/api/health` })).toEqual({ error: 'ECONNREFUSED' });
    expect((await box.exec(['test', '-d', '/var/lib/vplus/mariadb/data/mysql'])).code).toBe(0);
    expect((await box.exec(['test', '-f', '/var/lib/vplus/nodes/this-computer/node.json'])).code).toBe(0);
    expect((await box.exec(['getent', 'passwd', 'vplus'])).code).toBe(0);
  });

  it('reinstalls it: enabled and running again on the kept data; the admin signs in', async () => {
    const out = await timed('apt reinstall', () => box.ok(['apt-get', 'install', '-y', '-q', deb(packages.next)], { timeoutMs: 300_000 }));
    expect(firstRunInfo(out)).toMatchObject({ fingerprint, setupCode: undefined });
    expect((await box.exec(['systemctl', 'is-enabled', 'vplus.service'])).stdout.trim()).toBe('enabled');
    expect(ok(await box.https({ url: `${URL}/api/health` })).body).toMatchObject({ version: next, setupRequired: false });
    expect(await login()).toContain('Logged in');
  });

  it('purges it: the data dir goes too, and nothing of it is left running', async () => {
    await timed('apt purge', () => box.ok(['apt-get', 'purge', '-y', '-q', 'vplus']));
    expect((await box.exec(['test', '-e', '/var/lib/vplus'])).code).not.toBe(0);
    expect((await box.ok(['systemctl', 'show', '-p', 'LoadState', '--value', 'vplus.service'])).trim()).toBe('not-found');
    expect(await stray()).toEqual([]);
    expect(await box.https({ url: `${URL}/api/health` })).toEqual({ error: 'ECONNREFUSED' });
  });
});

describe('the .run on a fresh Debian system', () => {
  let box: DebianContainer;

  beforeAll(async () => {
    box = await timed('booting a fresh system', () =>
      DebianContainer.boot({ image, workDir: work, packagesDir: path.dirname(packages.current.deb), deb: packages.current.deb, log }),
    );
  });
  afterAll(async () => {
    await box?.destroy();
  });

  it('run as root, it installs the package with its dependencies; the server answers and first-run setup takes the printed code', async () => {
    const out = await timed('the .run (first run included)', () => box.ok(['sh', `/pkg/${path.basename(packages.current.run!)}`], { timeoutMs: 300_000 }));
    expect(out).toMatch(/Setting up vplus \(/);
    const info = firstRunInfo(out);
    expect(info.fingerprint).toBeDefined();
    expect(info.setupCode).toBeDefined();
    expect((await box.exec(['systemctl', 'is-active', 'vplus.service'])).stdout.trim()).toBe('active');
    const health = ok(await box.https({ url: `${URL}/api/health` }));
    expect(health).toMatchObject({ status: 200, fingerprint: info.fingerprint, body: { version: current, setupRequired: true } });
    const setup = ok(await box.https({ url: `${URL}/api/setup`, method: 'POST', body: { username: 'admin', password: PASSWORD, setupCode: info.setupCode } }));
    expect(setup.status).toBe(201);
    const signedIn = await box.ok(['vplus', 'login', '--server', URL, '--user', 'admin', '--password-stdin', '--fingerprint', info.fingerprint!], { input: `${PASSWORD}\n` });
    expect(signedIn).toContain('Logged in');
  });
});
