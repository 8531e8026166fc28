/**
 * Starts the system libvirt daemons on a host where no init system runs them (containers,
 * CI machines, the test and benchmark hosts): virtlogd, which QEMU's console and logs go
 * through, and libvirtd. Each is checked on its own by talking to it, not by its socket file
 * existing: a daemon that died leaves its socket behind, and libvirtd answering says nothing
 * about virtlogd ("Failed to connect socket to '/run/libvirt/virtlogd-sock'" at VM start).
 * Idempotent and safe when several processes race: a second daemon loses the pid-file lock
 * and exits, and everyone then waits for the one that won.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const VIRTLOGD_SOCKET = '/run/libvirt/virtlogd-sock';

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(5_000, () => done(false));
  });
}

async function libvirtdAnswers(uri: string): Promise<boolean> {
  try {
    // Connecting is the question; `virsh version` also probes QEMU's capabilities, which
    // took up to 10 s on a loaded 2-core machine and made a running daemon look dead.
    await exec('virsh', ['-c', uri, 'uri'], { timeout: 20_000, env: { ...process.env, LC_ALL: 'C' } });
    return true;
  } catch {
    return false;
  }
}

async function startDaemon(binary: string): Promise<void> {
  // `-d` forks; the parent's exit status only says whether the fork happened. A loser of the
  // pid-file race exits non-zero, which is fine: the winner is then awaited below.
  await exec(binary, ['-d'], { timeout: 30_000 }).catch(() => undefined);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, hint: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not start within ${Math.round(timeoutMs / 1000)} s; ${hint}`);
}

export async function ensureLibvirtDaemons(uri = 'qemu:///system', timeoutMs = 30_000): Promise<void> {
  if (!(await socketAnswers(VIRTLOGD_SOCKET))) {
    // A socket file nobody listens on is what a dead virtlogd leaves; remove it so the new
    // daemon binds a fresh one.
    if (fs.existsSync(VIRTLOGD_SOCKET)) fs.rmSync(VIRTLOGD_SOCKET, { force: true });
    await startDaemon('/usr/sbin/virtlogd');
    await waitFor('virtlogd', () => socketAnswers(VIRTLOGD_SOCKET), timeoutMs, 'run "virtlogd -d" by hand to see why');
  }
  if (!(await libvirtdAnswers(uri))) {
    await startDaemon('/usr/sbin/libvirtd');
    await waitFor('libvirtd', () => libvirtdAnswers(uri), timeoutMs, 'run "libvirtd -d" by hand to see why');
  }
}
