import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import archiver from 'archiver';
import type { Logger } from 'pino';
import { InstallerError } from './installer.js';
import { BUNDLE, SUPERVISOR_SCRIPT } from './node-layout.js';

/**
 * The node bundle: a tar.gz with everything a Linux x86_64 host (glibc) needs
 * to run `vplus node-service …` — the Node.js binary, the compiled CLI and node
 * service, and the production npm packages. Built once per app version and
 * inputs, and cached.
 *
 * Layout (relative to the install directory, e.g. /opt/vplus-node):
 *   node                      the Node.js binary this server runs on
 *   bin/vplus.js              the `vplus` command
 *   bin/vplus-node-supervisor keeps the node running where there is no systemd
 *   dist/{cli,common,node-service}/…, plus the few dist/electron/server files
 *                             the CLI imports statically (boot-config.js)
 *   node_modules/…            the production dependency closure of package.json
 *   package.json, BUNDLE.json
 */

/** Bumped when the bundle's layout or contents change in a way the input hash cannot see. */
const BUNDLE_FORMAT = 1;

/** dist/ directories copied whole; anything else under dist/ only if they import it statically. */
const DIST_ROOTS = ['dist/cli', 'dist/common', 'dist/node-service'];

/** Files in node_modules no running program reads: type declarations, source maps, TypeScript sources. */
const SKIPPED_IN_MODULES = /(\.d\.[cm]?ts|\.[cm]?ts|\.map)$/;

export interface NodeBundleOptions {
  /** Directory holding package.json, bin/, dist/ and node_modules/ (the repository or the packaged app). */
  appRoot: string;
  /** Where built bundles are kept; older bundles there are removed. */
  cacheDir: string;
  /**
   * The Node.js binary to ship. Default: the one running this server. Inside
   * Electron, process.execPath is Electron, not Node: give a real Node binary.
   */
  nodeBinary?: string;
  logger?: Logger;
}

export interface BuiltBundle {
  /** The .tar.gz file. */
  file: string;
  version: string;
  /** Hash of the inputs (first 16 hex digits of a SHA-256). */
  inputHash: string;
  /** Size of the .tar.gz. */
  sizeBytes: number;
  /** Size of the files once unpacked (for the free-space check). */
  unpackedBytes: number;
  fileCount: number;
  /** True when this call built it, false when it came from the cache. */
  built: boolean;
  buildMs: number;
}

interface BundleEntry {
  /** Name inside the archive. */
  name: string;
  /** Source file on disk, or inline content. */
  source: { file: string; stats: fs.Stats } | { content: string; mode: number };
}

interface BundleManifest {
  format: number;
  version: string;
  inputHash: string;
  nodeVersion: string;
  unpackedBytes: number;
  fileCount: number;
}

export class NodeBundle {
  private readonly nodeBinary: string;
  private inflight: Promise<BuiltBundle> | undefined;

  constructor(private readonly options: NodeBundleOptions) {
    this.nodeBinary = options.nodeBinary ?? process.execPath;
  }

  /** The bundle for the current inputs: from the cache when unchanged, built otherwise. */
  ensure(): Promise<BuiltBundle> {
    // Concurrent installs share one build.
    this.inflight ??= this.ensureOnce().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async ensureOnce(): Promise<BuiltBundle> {
    const started = Date.now();
    const { appRoot, cacheDir } = this.options;
    const log = this.options.logger;
    const pkg = readPackageJson(appRoot);
    if (process.versions.electron && !this.options.nodeBinary) {
      throw new InstallerError(
        'BUNDLE_FAILED',
        'the node bundle needs a Node.js binary, and this server runs inside Electron; configure the Node.js binary to ship (nodeBinary)',
      );
    }

    const entries = await this.collectEntries(pkg);
    const manifestBase = { format: BUNDLE_FORMAT, version: pkg.version, nodeVersion: await nodeVersionOf(this.nodeBinary) };
    const inputHash = hashInputs(entries, manifestBase);
    const name = `vplus-node-${pkg.version}-${inputHash}.tar.gz`;
    const file = path.join(cacheDir, name);
    const unpackedBytes = entries.reduce((sum, e) => sum + ('file' in e.source ? e.source.stats.size : Buffer.byteLength(e.source.content)), 0);
    const result = (built: boolean): BuiltBundle => ({
      file,
      version: pkg.version,
      inputHash,
      sizeBytes: fs.statSync(file).size,
      unpackedBytes,
      fileCount: entries.length + 1,
      built,
      buildMs: Date.now() - started,
    });

    if (fs.existsSync(file)) return result(false);

    await fs.promises.mkdir(cacheDir, { recursive: true, mode: 0o700 });
    const manifest: BundleManifest = { ...manifestBase, inputHash, unpackedBytes, fileCount: entries.length + 1 };
    entries.push({ name: BUNDLE.manifest, source: { content: `${JSON.stringify(manifest, null, 2)}\n`, mode: 0o644 } });
    const tmp = path.join(cacheDir, `.${name}.${process.pid}.tmp`);
    log?.info({ version: pkg.version, files: entries.length, unpackedBytes }, 'building the node bundle');
    try {
      await writeArchive(entries, tmp);
      await fs.promises.rename(tmp, file);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw new InstallerError('BUNDLE_FAILED', `building the node bundle failed: ${(err as Error).message}`);
    }
    await this.removeOtherBundles(name);
    const out = result(true);
    log?.info({ file, sizeBytes: out.sizeBytes, buildMs: out.buildMs }, 'node bundle built');
    return out;
  }

  private async collectEntries(pkg: PackageJson): Promise<BundleEntry[]> {
    const { appRoot } = this.options;
    const entries: BundleEntry[] = [];
    const add = (rel: string, name = rel): void => {
      const file = path.join(appRoot, rel);
      entries.push({ name, source: { file, stats: fs.statSync(file) } });
    };

    const cliMain = path.join(appRoot, 'dist/cli/main.js');
    if (!fs.existsSync(cliMain)) {
      throw new InstallerError('BUNDLE_FAILED', `the node bundle needs the built program, and ${cliMain} is missing; run npm run build`);
    }
    entries.push({ name: BUNDLE.node, source: { file: this.nodeBinary, stats: fs.statSync(this.nodeBinary) } });
    add('package.json');
    add(BUNDLE.cli);
    entries.push({ name: BUNDLE.supervisor, source: { content: SUPERVISOR_SCRIPT, mode: 0o755 } });

    const distFiles = new Set<string>();
    for (const root of DIST_ROOTS) {
      for (const rel of walkFiles(appRoot, root)) if (!rel.endsWith('.map')) distFiles.add(rel);
    }
    for (const rel of staticImportClosure(appRoot, [...distFiles].filter((f) => f.endsWith('.js')))) distFiles.add(rel);
    for (const rel of [...distFiles].sort()) add(rel);

    for (const dir of productionPackageDirs(appRoot, pkg)) {
      for (const rel of walkFiles(appRoot, dir, true)) {
        if (SKIPPED_IN_MODULES.test(rel) && !rel.endsWith('package.json')) continue;
        add(rel);
      }
    }
    return entries;
  }

  private async removeOtherBundles(keep: string): Promise<void> {
    for (const f of await fs.promises.readdir(this.options.cacheDir)) {
      if (f !== keep && /^vplus-node-.*\.tar\.gz$/.test(f)) {
        await fs.promises.rm(path.join(this.options.cacheDir, f), { force: true });
      }
    }
  }
}

interface PackageJson {
  name?: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

function readPackageJson(dir: string): PackageJson {
  const file = path.join(dir, 'package.json');
  try {
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as PackageJson;
    return { ...pkg, version: pkg.version ?? '0.0.0' };
  } catch (err) {
    throw new InstallerError('BUNDLE_FAILED', `cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Directories (relative to appRoot) of every package the app's production
 * dependencies need, resolved the way Node does (nearest node_modules upwards).
 * The same set `npm ls --omit=dev --all --parseable` lists, without needing npm.
 */
export function productionPackageDirs(appRoot: string, pkg: PackageJson = readPackageJson(appRoot)): string[] {
  const found = new Set<string>();
  const visit = (fromDir: string, deps: Record<string, boolean>): void => {
    for (const [name, required] of Object.entries(deps)) {
      const dir = resolvePackageDir(appRoot, fromDir, name);
      if (!dir) {
        if (required) throw new InstallerError('BUNDLE_FAILED', `the npm package ${name} (needed by ${fromDir || 'the app'}) is not installed; run npm ci`);
        continue;
      }
      if (found.has(dir)) continue;
      found.add(dir);
      visit(dir, dependenciesOf(readPackageJson(path.join(appRoot, dir))));
    }
  };
  // The app's optional dependencies (a native module built for one platform) ship when installed.
  visit('', { ...Object.fromEntries(Object.keys(pkg.optionalDependencies ?? {}).map((n) => [n, false])), ...Object.fromEntries(Object.keys(pkg.dependencies ?? {}).map((n) => [n, true])) });
  return [...found].sort();
}

/** name → required? (optional and peer dependencies may be absent). */
function dependenciesOf(pkg: PackageJson): Record<string, boolean> {
  const deps: Record<string, boolean> = {};
  for (const n of Object.keys(pkg.peerDependencies ?? {})) deps[n] = false;
  for (const n of Object.keys(pkg.optionalDependencies ?? {})) deps[n] = false;
  for (const n of Object.keys(pkg.dependencies ?? {})) deps[n] = !(n in (pkg.optionalDependencies ?? {}));
  return deps;
}

function resolvePackageDir(appRoot: string, fromDir: string, name: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.posix.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(appRoot, candidate, 'package.json'))) return candidate;
    if (!dir) return undefined;
    // Up one node_modules level: a/node_modules/b/node_modules/c → a/node_modules/b → a
    const idx = dir.lastIndexOf('/node_modules/');
    dir = idx >= 0 ? dir.slice(0, idx) : '';
  }
}

/**
 * Relative files under appRoot/dir. In a package directory, nested
 * node_modules are left out (they are packages of their own, collected when
 * needed) and so is node_modules/.bin.
 */
function walkFiles(appRoot: string, dir: string, isPackage = false): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(appRoot, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, d.name);
      if (d.isDirectory()) {
        if (isPackage && d.name === 'node_modules') continue;
        walk(child);
      } else if (d.isFile()) {
        out.push(child);
      } else if (d.isSymbolicLink()) {
        // Packages rarely contain links; follow one that points at a file inside the app.
        const real = fs.realpathSync(path.join(appRoot, child));
        if (real.startsWith(path.resolve(appRoot) + path.sep) && fs.statSync(real).isFile()) out.push(child);
      }
    }
  };
  if (!fs.existsSync(path.join(appRoot, dir))) {
    throw new InstallerError('BUNDLE_FAILED', `the node bundle needs ${path.join(appRoot, dir)}, which is missing; run npm run build`);
  }
  walk(dir);
  return out;
}

/**
 * Files outside the copied dist/ roots that they import statically (relative
 * `import … from './x.js'` / `export … from`), e.g. the CLI's import of
 * dist/electron/server/boot-config.js. Dynamic import() is deliberately not
 * followed: the CLI loads the server that way for `server start` only.
 */
export function staticImportClosure(appRoot: string, startFiles: string[]): string[] {
  const seen = new Set(startFiles);
  const extra: string[] = [];
  const queue = [...startFiles];
  const importRe = /(?:^|[\n;])\s*(?:import|export)\s[^'"`;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|[\n;])\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/g;
  for (let rel = queue.shift(); rel !== undefined; rel = queue.shift()) {
    const text = fs.readFileSync(path.join(appRoot, rel), 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      if (!spec) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
      if (seen.has(target)) continue;
      if (!fs.existsSync(path.join(appRoot, target))) {
        throw new InstallerError('BUNDLE_FAILED', `${rel} imports ${spec}, which is not built (${target} is missing); run npm run build`);
      }
      seen.add(target);
      extra.push(target);
      queue.push(target);
    }
  }
  return extra;
}

function hashInputs(entries: BundleEntry[], meta: object): string {
  // Names, sizes and modification times: a rebuild or reinstall of anything changes the key
  // without reading ~200 MB on every install.
  const h = createHash('sha256').update(JSON.stringify(meta));
  for (const e of entries) {
    h.update(e.name).update('\0');
    if ('file' in e.source) h.update(`${e.source.stats.size}:${e.source.stats.mtimeMs}:${e.source.stats.mode}`);
    else h.update(e.source.content).update(String(e.source.mode));
    h.update('\n');
  }
  return h.digest('hex').slice(0, 16);
}

async function writeArchive(entries: BundleEntry[], file: string): Promise<void> {
  const archive = archiver('tar', { gzip: true, gzipOptions: { level: 6 } });
  const out = fs.createWriteStream(file, { mode: 0o600 });
  const done = pipeline(archive, out);
  // archiver reports unreadable files as warnings; a bundle missing a file is a failed bundle.
  const fail = new Promise<never>((_, reject) => archive.on('warning', reject));
  // Only marks the rejection handled until the race below awaits it: a warning still fails the bundle there.
  fail.catch(() => undefined);
  const date = new Date();
  for (const e of entries) {
    if ('file' in e.source) {
      archive.file(e.source.file, { name: e.name, mode: e.source.stats.mode & 0o777, stats: e.source.stats, date });
    } else {
      archive.append(e.source.content, { name: e.name, mode: e.source.mode, date });
    }
  }
  await Promise.race([Promise.all([archive.finalize(), done]), fail]);
}

async function nodeVersionOf(binary: string): Promise<string> {
  if (binary === process.execPath) return process.version;
  return new Promise((resolve, reject) => {
    execFile(binary, ['--version'], { timeout: 10_000 }, (err, stdout) => {
      if (err) reject(new InstallerError('BUNDLE_FAILED', `the Node.js binary ${binary} does not run: ${err.message}`));
      else resolve(stdout.trim());
    });
  });
}
