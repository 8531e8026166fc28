import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './requirements.js';

const run = promisify(execFile);

/**
 * A real remote host on this machine, for installer tests: a network
 * namespace joined to ours by a veth pair in a private /30, running its own
 * sshd (own config, ed25519 host key, authorized_keys for a key pair made
 * here). Needs root (ip netns) and the openssh-server and iproute2 packages.
 *
 * The namespace shares this machine's filesystem and process table: what a
 * test installs "remotely" (e.g. /opt/vplus-node) lands on this machine, and
 * processes it starts there are ours to kill. destroy() kills every process
 * in the namespace, then removes it.
 */
export interface NetnsSshHost {
  /** Namespace name (ip netns). */
  namespace: string;
  /** The host's address, inside the namespace. */
  address: string;
  port: number;
  /** "SHA256:…" of its host key, from ssh-keygen -lf. */
  hostKeyFingerprint: string;
  /** OpenSSH private key (unencrypted) whose public key is in authorized_keys for root. */
  privateKey: string;
  /** Our address on the veth pair: the host reaches this machine here. */
  hostAddressOnOurSide: string;
  /** Test directory with sshd_config, keys, the pid file and the sshd log. */
  dir: string;
  sshdLogFile: string;
  readSshdLog(): string;
  /**
   * Adds a non-root account that may sign in with privateKey (authorized_keys
   * is shared by all accounts). The namespace shares /etc/passwd: destroy()
   * deletes the account again.
   */
  addUser(): Promise<string>;
  /** Kills sshd and anything else running in the namespace, removes the namespace and veth pair. */
  destroy(): Promise<void>;
}

let counter = 0;

export function requireSshHostTools(): { sshd: string; ip: string; sshKeygen: string } {
  const hint = 'sudo apt-get install -y openssh-server iproute2';
  const sshd = requireBinary(['/usr/sbin/sshd'], hint);
  const ip = requireBinary(['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'], hint);
  const sshKeygen = requireBinary(['/usr/bin/ssh-keygen'], hint);
  if (process.getuid?.() !== 0) throw new Error('the SSH test host needs root (ip netns add); run the integration tests as root');
  return { sshd, ip, sshKeygen };
}

export async function startNetnsSshHost(): Promise<NetnsSshHost> {
  const { sshd, ip, sshKeygen } = requireSshHostTools();
  await removeStaleNamespaces(ip);

  const { index, namespace, outer, inner, ourAddress, hostAddress } = await pickNetwork(ip);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vplus-sshhost-${index}-`));
  // Readable by the non-root accounts of addUser() (sshd reads authorized_keys as the user); the keys stay 0600.
  fs.chmodSync(dir, 0o755);
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };

  try {
    await run(ip, ['netns', 'add', namespace]);
    cleanups.push(async () => {
      await killNamespaceProcesses(ip, namespace);
      await run(ip, ['netns', 'del', namespace]);
    });
    await run(ip, ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
    cleanups.push(async () => void (await run(ip, ['link', 'del', outer]).catch(() => undefined)));
    await run(ip, ['link', 'set', inner, 'netns', namespace]);
    await run(ip, ['addr', 'add', `${ourAddress}/30`, 'dev', outer]);
    await run(ip, ['link', 'set', outer, 'up']);
    await run(ip, ['netns', 'exec', namespace, ip, 'link', 'set', 'lo', 'up']);
    await run(ip, ['netns', 'exec', namespace, ip, 'addr', 'add', `${hostAddress}/30`, 'dev', inner]);
    await run(ip, ['netns', 'exec', namespace, ip, 'link', 'set', inner, 'up']);

    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    await run(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', `vplus-test-host-${index}`, '-f', hostKey]);
    const userKey = path.join(dir, 'id_ed25519');
    await run(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'vplus-test-client', '-f', userKey]);
    fs.copyFileSync(`${userKey}.pub`, path.join(dir, 'authorized_keys'));
    fs.chmodSync(path.join(dir, 'authorized_keys'), 0o644);
    const { stdout: fpOut } = await run(sshKeygen, ['-lf', `${hostKey}.pub`]);
    const hostKeyFingerprint = fpOut.split(/\s+/)[1] ?? '';
    if (!hostKeyFingerprint.startsWith('SHA256:')) throw new Error(`ssh-keygen -lf printed an unexpected fingerprint: ${fpOut}`);

    const port = 22;
    const pidFile = path.join(dir, 'sshd.pid');
    const sshdLogFile = path.join(dir, 'sshd.log');
    const config = path.join(dir, 'sshd_config');
    fs.writeFileSync(
      config,
      [
        `ListenAddress ${hostAddress}:${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${pidFile}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        'PermitRootLogin yes',
        'PubkeyAuthentication yes',
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        // PAM checks passwords against this machine's accounts (the namespace shares /etc/shadow).
        'UsePAM yes',
        // The test directory is in /tmp (world-writable parent).
        'StrictModes no',
        'LogLevel VERBOSE',
        'MaxAuthTries 6',
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    );
    // sshd refuses to start without its privilege separation directory.
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

    const child: ChildProcess = spawn(ip, ['netns', 'exec', namespace, sshd, '-D', '-f', config, '-E', sshdLogFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
    await waitForPort(hostAddress, port, 10_000, () => {
      if (child.exitCode !== null) {
        const log = fs.existsSync(sshdLogFile) ? fs.readFileSync(sshdLogFile, 'utf8') : '';
        throw new Error(`sshd exited with code ${child.exitCode}: ${stderr}${log}`);
      }
    });

    let destroyed = false;
    const users: string[] = [];
    return {
      namespace,
      address: hostAddress,
      port,
      hostKeyFingerprint,
      privateKey: fs.readFileSync(userKey, 'utf8'),
      hostAddressOnOurSide: ourAddress,
      dir,
      sshdLogFile,
      readSshdLog: () => (fs.existsSync(sshdLogFile) ? fs.readFileSync(sshdLogFile, 'utf8') : ''),
      async addUser() {
        const name = `vpt${index}u${users.length + 1}`;
        await run('useradd', ['--no-create-home', '--home-dir', dir, '--shell', '/bin/sh', '--comment', 'vPlus SSH installer test', name]);
        users.push(name);
        return name;
      },
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        // Processes first (the namespace's), then the accounts they ran as.
        await cleanup();
        const failed: string[] = [];
        for (const user of users) {
          await run('userdel', ['--force', user]).catch((err: Error) => failed.push(`${user}: ${err.message.trim()}`));
        }
        fs.rmSync(dir, { recursive: true, force: true });
        if (failed.length) throw new Error(`could not delete the test accounts: ${failed.join('; ')}`);
      },
    };
  } catch (err) {
    await cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Picks a free /30 in 10.250.0.0/16, starting from one derived from our pid and a counter. */
async function pickNetwork(ip: string): Promise<{ index: number; namespace: string; outer: string; inner: string; ourAddress: string; hostAddress: string }> {
  const { stdout: addrs } = await run(ip, ['-o', 'addr', 'show']);
  const { stdout: links } = await run(ip, ['-o', 'link', 'show']);
  const { stdout: namespaces } = await run(ip, ['netns', 'list']);
  for (let attempt = 0; attempt < 64; attempt++) {
    // 16384 subnets of 4 addresses each.
    const index = (process.pid * 37 + counter++ * 101 + attempt * 7) % 16384;
    const third = index >> 6;
    const fourth = (index & 63) * 4;
    const ourAddress = `10.250.${third}.${fourth + 1}`;
    const hostAddress = `10.250.${third}.${fourth + 2}`;
    const namespace = `vplus-ssh-${process.pid}-${index}`;
    const outer = `vpo${index}`;
    const inner = `vpi${index}`;
    const taken =
      addrs.includes(` ${ourAddress}/`) || addrs.includes(` ${hostAddress}/`) || links.includes(` ${outer}@`) || links.includes(` ${outer}:`) || namespaces.includes(namespace);
    if (!taken) return { index, namespace, outer, inner, ourAddress, hostAddress };
  }
  throw new Error('no free 10.250.x.y/30 network for the SSH test host');
}

/** Namespaces left by test runs whose process has died (a crashed or killed run). */
async function removeStaleNamespaces(ip: string): Promise<void> {
  const { stdout } = await run(ip, ['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const m = /^(vplus-ssh-(\d+)-(\d+))\b/.exec(line.trim());
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || isAlive(pid)) continue;
    await killNamespaceProcesses(ip, m[1]!).catch(() => undefined);
    await run(ip, ['netns', 'del', m[1]!]).catch(() => undefined);
    await run(ip, ['link', 'del', `vpo${m[3]}`]).catch(() => undefined);
  }
}

/** SIGTERM, then SIGKILL, to every process in the namespace (sshd, and whatever the tests started there). */
async function killNamespaceProcesses(ip: string, namespace: string): Promise<void> {
  const pids = async (): Promise<number[]> => {
    const { stdout } = await run(ip, ['netns', 'pids', namespace]).catch(() => ({ stdout: '' }));
    return stdout.split('\n').map(Number).filter((p) => p > 0 && p !== process.pid);
  };
  for (const p of await pids()) signal(p, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while ((await pids()).length && Date.now() < deadline) await sleep(100);
  for (const p of await pids()) signal(p, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForPort(host: string, port: number, timeoutMs: number, check: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    check();
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${host}:${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
