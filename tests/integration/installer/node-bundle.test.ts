import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeBundle, productionPackageDirs } from '../../../electron/server/nodes/installer/node-bundle.js';
import { makeTempDir } from '../../support/test-server.js';
import { REPO_ROOT, requireBuiltProgram, tarList } from './installer-test-kit.js';

describe('node bundle', () => {
  let cacheDir: string;
  let unpackDir: string;

  beforeAll(() => {
    requireBuiltProgram();
    cacheDir = makeTempDir('bundle-cache');
    unpackDir = makeTempDir('bundle-unpacked');
  });
  afterAll(() => {
    fs.rmSync(cacheDir, { recursive: true, force: true });
    fs.rmSync(unpackDir, { recursive: true, force: true });
  });

  it('resolves the same production dependency closure as npm ls --omit=dev', () => {
    const npm = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 })
      .toString()
      .split('\n')
      .filter(Boolean)
      .slice(1) // the project itself
      .map((p) => path.relative(REPO_ROOT, p))
      .sort();
    expect(productionPackageDirs(REPO_ROOT)).toEqual(npm);
  });

  it('packs node, the CLI, the node service and production packages, and runs from anywhere once unpacked', async () => {
    const bundle = new NodeBundle({ appRoot: REPO_ROOT, cacheDir });
    const built = await bundle.ensure();
    console.log(`node bundle: ${(built.sizeBytes / 1e6).toFixed(1)} MB (${(built.unpackedBytes / 1e6).toFixed(1)} MB unpacked, ${built.fileCount} files), built in ${built.buildMs} ms`);
    expect(built.built).toBe(true);
    expect(path.basename(built.file)).toBe(`vplus-node-${built.version}-${built.inputHash}.tar.gz`);

    const names = new Set(tarList(built.file));
    for (const f of ['node', 'package.json', 'bin/vplus.js', 'bin/vplus-node-supervisor', 'BUNDLE.json', 'dist/cli/main.js', 'dist/common/fingerprint.js', 'node_modules/zod/package.json', 'node_modules/ws/package.json', 'node_modules/commander/package.json']) {
      expect(names, f).toContain(f);
    }
    // The CLI imports boot-config statically; the server itself is loaded on demand only for `server start`.
    expect(names).toContain('dist/electron/server/boot-config.js');
    expect(names).not.toContain('dist/electron/server/server.js');
    expect([...names].some((n) => n.startsWith('dist/renderer/'))).toBe(false);
    expect([...names].some((n) => n.startsWith('node_modules/electron/') || n.startsWith('node_modules/vitest/'))).toBe(false);

    execFileSync('tar', ['xzf', built.file, '-C', unpackDir]);
    expect(fs.statSync(path.join(unpackDir, 'node')).mode & 0o111).not.toBe(0);
    expect(fs.statSync(path.join(unpackDir, 'bin/vplus-node-supervisor')).mode & 0o111).not.toBe(0);
    // Run it from / with a bare environment: nothing may come from the repository.
    const version = execFileSync(path.join(unpackDir, 'node'), [path.join(unpackDir, 'bin/vplus.js'), '--version'], { cwd: '/', env: { PATH: '/usr/bin:/bin' } })
      .toString()
      .trim();
    expect(version).toBe(built.version);
    const manifest = JSON.parse(fs.readFileSync(path.join(unpackDir, 'BUNDLE.json'), 'utf8')) as { version: string; inputHash: string; nodeVersion: string };
    expect(manifest).toMatchObject({ version: built.version, inputHash: built.inputHash, nodeVersion: process.version });

    // Unchanged inputs: the cached bundle, quickly.
    const again = await new NodeBundle({ appRoot: REPO_ROOT, cacheDir }).ensure();
    expect(again.built).toBe(false);
    expect(again.file).toBe(built.file);
    expect(again.buildMs).toBeLessThan(5000);
  });

  it('rebuilds when an input changes and drops the old bundle from the cache', async () => {
    const appRoot = makeTempDir('bundle-app');
    try {
      // A copy of the app whose package.json changes, with dist/, bin/ and node_modules linked in.
      fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(appRoot, 'package.json'));
      for (const d of ['dist', 'bin', 'node_modules']) fs.symlinkSync(path.join(REPO_ROOT, d), path.join(appRoot, d));
      const dir = makeTempDir('bundle-cache2');
      const first = await new NodeBundle({ appRoot, cacheDir: dir }).ensure();
      const pkg = JSON.parse(fs.readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as { version: string };
      pkg.version = `${pkg.version}-test.1`;
      fs.writeFileSync(path.join(appRoot, 'package.json'), JSON.stringify(pkg));
      const second = await new NodeBundle({ appRoot, cacheDir: dir }).ensure();
      expect(second.built).toBe(true);
      expect(second.version).toBe(pkg.version);
      expect(second.inputHash).not.toBe(first.inputHash);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tar.gz'))).toEqual([path.basename(second.file)]);
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      fs.rmSync(appRoot, { recursive: true, force: true });
    }
  });

  it('says what to do when the program is not built', async () => {
    const appRoot = makeTempDir('bundle-unbuilt');
    try {
      fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(appRoot, 'package.json'));
      await expect(new NodeBundle({ appRoot, cacheDir: path.join(appRoot, 'cache') }).ensure()).rejects.toThrow(/dist\/cli\/main\.js is missing; run npm run build/);
    } finally {
      fs.rmSync(appRoot, { recursive: true, force: true });
    }
  });
});
