import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from '../support/requirements.js';

const execFileAsync = promisify(execFile);

/**
 * A clean Debian system for installing our packages: `debootstrap --variant=minbase`
 * of the host's release (cached as a tarball), booted with `systemd-nspawn -b
 * --private-network --register=no --keep-unit`. With --register=no there is no
 * machined to reach it through (`machinectl`, `systemd-run -M`): commands run
 * inside through nsenter into the container's init, and HTTPS requests are made by
 * this Node.js inside its network namespace, where only loopback exists.
 *
 * apt inside has no network: before the boot, the same root runs `apt-get update`
 * and `apt-get install --download-only <the .deb>` with the host's network, into
 * a host-side archive cache bind-mounted as /var/cache/apt/archives, so the
 * dependencies come from Debian's mirror (once; later runs find them cached) and
 * the install itself, under systemd, needs no network.
 */

/** Bumped when what the image holds changes. */
const IMAGE_FORMAT = 2;
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const CONTAINER_HOSTNAME = 'vplus-test';

export function cacheDir(): string {
  return path.join(process.env.VPLUS_TEST_CACHE ?? path.join(os.homedir(), '.cache', 'vplus-tests'), 'debian');
}

export function requireContainerTools(): void {
  const hint = 'sudo apt-get install -y debootstrap systemd-container util-linux';
  requireBinary(['/usr/sbin/debootstrap'], hint);
  requireBinary(['/usr/bin/systemd-nspawn'], hint);
  requireBinary(['/usr/bin/nsenter'], hint);
  if (process.getuid?.() !== 0) throw new Error('the packaging tests install packages in a container: run them as root');
}

interface HostDebian {
  suite: string;
  mirror: string;
  /** The host's Debian package sources, for the container's /etc/apt. */
  sources: { file: string; text: string };
}

/** The host's Debian release and its package sources (CI machines reach only those). */
export function hostDebian(): HostDebian {
  const osRelease = Object.fromEntries(
    fs
      .readFileSync('/etc/os-release', 'utf8')
      .split('\n')
      .map((l) => /^(\w+)=("?)(.*)\2$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[3]]),
  ) as Record<string, string | undefined>;
  if (osRelease.ID !== 'debian' || !osRelease.VERSION_CODENAME) {
    throw new Error(`the packaging tests build a clean Debian system of the host's release; this host is ${osRelease.PRETTY_NAME ?? 'not Debian'}`);
  }
  const suite = osRelease.VERSION_CODENAME;
  const deb822 = '/etc/apt/sources.list.d/debian.sources';
  let sources: HostDebian['sources'];
  if (fs.existsSync(deb822)) {
    sources = { file: 'sources.list.d/debian.sources', text: fs.readFileSync(deb822, 'utf8') };
  } else {
    const lines = fs.existsSync('/etc/apt/sources.list') ? fs.readFileSync('/etc/apt/sources.list', 'utf8').split('\n') : [];
    sources = { file: 'sources.list', text: `${lines.filter((l) => /^deb\s.*\/debian(-security)?\/?\s/.test(l)).join('\n')}\n` };
  }
  const uris = [...sources.text.matchAll(/(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm)].map((m) => m[1]!);
  const mirror = uris.find((u) => /\/debian\/?$/.test(u)) ?? 'http://deb.debian.org/debian';
  return { suite, mirror, sources };
}

/** The minbase root of the host's release, as a tarball in the cache: made once (about a minute), then unpacked in seconds. */
export async function ensureDebianImage(log: (line: string) => void): Promise<string> {
  const host = hostDebian();
  const dir = cacheDir();
  const tarball = path.join(dir, `${host.suite}-minbase-${IMAGE_FORMAT}.tar`);
  if (fs.existsSync(tarball)) return tarball;
  fs.mkdirSync(dir, { recursive: true });
  const root = fs.mkdtempSync(path.join(dir, '.root-'));
  const started = Date.now();
  try {
    log(`debootstrap --variant=minbase ${host.suite} from ${host.mirror}`);
    await run('debootstrap', ['--variant=minbase', '--include=systemd,systemd-sysv,dbus', host.suite, root, host.mirror], 15 * 60_000);
    // mkdtemp made it 0700: as the container's / that would shut out every user but root.
    fs.chmodSync(root, 0o755);
    fs.rmSync(path.join(root, 'etc/apt/sources.list'), { force: true });
    fs.writeFileSync(path.join(root, 'etc/apt', host.sources.file), host.sources.text);
    fs.writeFileSync(path.join(root, 'etc/hostname'), `${CONTAINER_HOSTNAME}\n`);
    fs.writeFileSync(path.join(root, 'etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${CONTAINER_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
    // Nothing else may hold apt's lock while a test installs (apt's timers fire at boot when missed).
    for (const timer of ['apt-daily.timer', 'apt-daily-upgrade.timer']) {
      fs.symlinkSync('/dev/null', path.join(root, 'etc/systemd/system', timer));
    }
    const archives = path.join(root, 'var/cache/apt/archives');
    for (const f of fs.readdirSync(archives)) if (f.endsWith('.deb')) fs.rmSync(path.join(archives, f));
    const tmp = `${tarball}.tmp-${process.pid}`;
    await run('tar', ['-C', root, '--numeric-owner', '-cf', tmp, '.'], 10 * 60_000);
    fs.renameSync(tmp, tarball);
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.tar') && path.join(dir, f) !== tarball) fs.rmSync(path.join(dir, f), { force: true });
    log(`image ${tarball} made in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return tarball;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class DebianContainer {
  private constructor(
    readonly root: string,
    private readonly nspawn: ChildProcess,
    readonly leader: number,
    private readonly consoleLog: string,
  ) {}

  /**
   * Unpacks the image into workDir, fetches what installing `deb` needs from Debian
   * into the archive cache, and boots it; resolves when systemd has finished booting.
   */
  static async boot(options: { image: string; workDir: string; packagesDir: string; deb: string; log: (line: string) => void }): Promise<DebianContainer> {
    const root = fs.mkdtempSync(path.join(options.workDir, 'root-'));
    fs.chmodSync(root, 0o755);
    await run('tar', ['-C', root, '--numeric-owner', '-xf', options.image], 5 * 60_000);
    const archives = path.join(cacheDir(), 'apt-archives');
    fs.mkdirSync(path.join(archives, 'partial'), { recursive: true });
    const binds = [`--bind=${archives}:/var/cache/apt/archives`, `--bind-ro=${options.packagesDir}:/pkg`];

    // With the host's network, before the boot: the package lists, and the dependencies of the .deb.
    const deb = `/pkg/${path.basename(options.deb)}`;
    const prep = await runResult(
      'systemd-nspawn',
      ['-q', '-D', root, '--register=no', '--keep-unit', ...binds, '/bin/sh', '-c', `apt-get update -q >/dev/null || echo "apt-get update failed; using the image's lists" >&2; apt-get install -q -y --download-only ${deb}`],
      10 * 60_000,
    );
    if (prep.code !== 0) throw new Error(`fetching the dependencies of ${deb} failed: ${prep.stderr || prep.stdout}`);
    options.log(`dependencies of ${path.basename(deb)}: ${/(\d+) newly installed/.exec(prep.stdout)?.[1] ?? '?'} packages, ${/Need to get ([^\n]*?) of archives/.exec(prep.stdout)?.[1] ?? 'all cached'}`);

    const consoleLog = path.join(options.workDir, `${path.basename(root)}.console.log`);
    const out = fs.openSync(consoleLog, 'w');
    const nspawn = spawn(
      'systemd-nspawn',
      ['-q', '-D', root, '-b', '--private-network', '--register=no', '--keep-unit', '--console=passive', `--machine=${path.basename(root).toLowerCase().replace(/[^a-z0-9-]/g, '-')}`, ...binds],
      { stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    let leader: number;
    try {
      leader = await waitFor('the container to start', 30_000, () => containerInit(nspawn.pid!));
    } catch (err) {
      nspawn.kill('SIGKILL');
      throw err;
    }
    const container = new DebianContainer(root, nspawn, leader, consoleLog);
    try {
      await container.waitBooted();
    } catch (err) {
      await container.destroy();
      throw err;
    }
    return container;
  }

  /** systemctl answers once systemd has its socket (refused before), then waits for the boot to finish. */
  private async waitBooted(): Promise<void> {
    const deadline = Date.now() + 120_000;
    let booted = await this.exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 120_000 });
    while (/Failed to connect to bus/.test(booted.stderr) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      booted = await this.exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 120_000 });
    }
    if (!/^(running|degraded)$/.test(booted.stdout.trim())) {
      const jobs = await this.exec(['systemctl', 'list-jobs', '--no-pager']);
      throw new Error(`the container did not boot (${booted.stdout.trim()}${booted.stderr.trim()}); waiting: ${jobs.stdout} ${this.consoleTail()}`);
    }
  }

  /** A command inside, as root, with a clean environment. */
  exec(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const env = ['env', '-i', `PATH=${PATH}`, 'HOME=/root', 'LANG=C.UTF-8', 'TERM=dumb', 'DEBIAN_FRONTEND=noninteractive'];
    return runResult('nsenter', ['-t', String(this.leader), '-a', '--', ...env, ...args], options.timeoutMs ?? 120_000, options.input);
  }

  /** Like exec, and a non-zero exit throws with what it printed. */
  async ok(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(args, options);
    if (r.code !== 0) throw new Error(`${args.join(' ')} exited with ${r.code}: ${r.stdout.slice(-3000)}${r.stderr.slice(-3000)}`);
    return r.stdout;
  }

  /** One HTTPS request to the container's loopback, made by this Node.js in its network namespace. */
  async https(request: HttpsRequest): Promise<HttpsResponse> {
    const r = await runResult('nsenter', ['-t', String(this.leader), '-n', '--', process.execPath, '-e', HTTPS_PROBE, JSON.stringify(request)], 30_000);
    if (r.code !== 0) throw new Error(`the HTTPS probe failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as HttpsResponse;
  }

  /** Name and owner of every process inside (minbase has no ps). */
  async processes(): Promise<{ comm: string; user: string }[]> {
    const out = await this.ok(['sh', '-c', 'for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null) && echo "$c $(stat -c %U $p 2>/dev/null)"; done']);
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [comm = '', user = ''] = l.split(' ');
        return { comm, user };
      });
  }

  /** Powers it off (SIGKILL after 30 s) and deletes its root. */
  async destroy(): Promise<void> {
    if (this.nspawn.exitCode === null && this.nspawn.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.nspawn.once('exit', () => resolve()));
      // systemd-nspawn turns SIGTERM into an orderly shutdown of the container.
      this.nspawn.kill('SIGTERM');
      const timer = setTimeout(() => this.nspawn.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    // A killed systemd-nspawn leaves the container's init running: SIGKILL to it ends its whole PID namespace.
    if (isContainerInit(this.leader)) {
      process.kill(this.leader, 'SIGKILL');
      await waitFor('the container to end', 30_000, () => (isContainerInit(this.leader) ? undefined : true));
    }
    const mounted = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => !!m && (m === this.root || m.startsWith(`${this.root}/`)));
    for (const m of mounted.reverse()) await run('umount', ['-l', m], 30_000).catch(() => undefined);
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  consoleTail(): string {
    return fs.existsSync(this.consoleLog) ? fs.readFileSync(this.consoleLog, 'utf8').slice(-4000) : '';
  }
}

export interface HttpsRequest {
  url: string;
  method?: string;
  body?: unknown;
}

export type HttpsResponse = { status: number; body: unknown; fingerprint: string } | { error: string };

/** Run with `node -e` inside the container's network namespace: prints {status, body, fingerprint} or {error}. */
const HTTPS_PROBE = `
const https = require('node:https');
const { url, method = 'GET', body } = JSON.parse(process.argv[1]);
const payload = body === undefined ? undefined : JSON.stringify(body);
// Not verified here: the test compares the certificate's fingerprint with the one the package printed.
const req = https.request(url, { method, rejectUnauthorized: false, timeout: 10000, headers: payload === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
  const fingerprint = res.socket.getPeerCertificate().fingerprint256;
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c) => (text += c));
  res.on('end', () => {
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* the UI's HTML */ }
    process.stdout.write(JSON.stringify({ status: res.statusCode, body: parsed, fingerprint }));
  });
});
req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
req.on('error', (err) => process.stdout.write(JSON.stringify({ error: err.code || err.message })));
req.end(payload);
`;

/**
 * The container's init: systemd-nspawn's child running systemd (nspawn first forks a
 * helper that starts it and exits, so any child will not do).
 */
function containerInit(nspawnPid: number): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === nspawnPid && comm === 'systemd') return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

function isContainerInit(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'systemd' && !/^\S+ \([^)]*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  const { stdout } = await execFileAsync(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

function runResult(file: string, args: string[], timeoutMs: number, input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr: err && code === -1 ? `${stderr}${err.message}` : stderr });
    });
    // A program that exits without reading its input must not fail the test with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}
