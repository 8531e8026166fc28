/**
 * The host side of a mount session, behind one adapter: loop devices (losetup), kernel and
 * FUSE mounts, nbdfuse, and what the kernel says is left (/proc/mounts, `losetup --list`,
 * processes). Everything is found by path under the session's work directory, so cleanup
 * also finds what a crash left between doing a step and recording its result.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ChildProcessRunner, type CommandRunner } from '../platforms/kvm/command-runner.js';

export interface MountedEntry {
  device: string;
  mountpoint: string;
  fstype: string;
}

export class MountHostError extends Error {
  readonly code = 'MOUNT_FAILED';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const inside = (dir: string, p: string) => p === dir || p.startsWith(`${dir}/`);
/** /proc/mounts escapes space, tab, newline and backslash as octal. */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
const firstLine = (s: string) => s.trim().split('\n').slice(-3).join(' ').slice(0, 400);

export class SystemMounter {
  constructor(private readonly runner: CommandRunner = new ChildProcessRunner(60_000)) {}

  /** Filesystems the running kernel knows (without loading modules). */
  async kernelFilesystems(): Promise<Set<string>> {
    const text = await fs.readFile('/proc/filesystems', 'utf8');
    return new Set(text.split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '').filter(Boolean));
  }

  async hasBinary(name: string): Promise<boolean> {
    for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) {
      if (await fs.access(path.join(dir, name)).then(() => true, () => false)) return true;
    }
    return false;
  }

  /** A loop device over [offset, offset + size) of a file. */
  async attachLoop(file: string, offset: number, size: number, readOnly: boolean): Promise<string> {
    const args = ['-f', '--show', '-o', String(offset), '--sizelimit', String(size), ...(readOnly ? ['-r'] : []), file];
    return (await this.runner.run('losetup', args)).stdout.trim();
  }

  async detachLoop(device: string): Promise<void> {
    // Just unmounted, a loop device can be briefly busy: retry until it is gone.
    for (let i = 0; ; i++) {
      try {
        await this.runner.run('losetup', ['-d', device]);
        return;
      } catch (err) {
        if (!(await this.loops()).some((l) => l.device === device)) return;
        if (i >= 50) throw new MountHostError(`cannot detach ${device}: ${String(err)}`);
        await sleep(100);
      }
    }
  }

  async loops(): Promise<{ device: string; backFile: string }[]> {
    const { stdout } = await this.runner.run('losetup', ['--list', '--json', '-O', 'NAME,BACK-FILE']);
    if (stdout.trim() === '') return [];
    const parsed = JSON.parse(stdout) as { loopdevices?: { name: string; 'back-file': string | null }[] };
    return (parsed.loopdevices ?? []).map((l) => ({ device: l.name, backFile: (l['back-file'] ?? '').replace(/ \(deleted\)$/, '') }));
  }

  /** Loop devices whose backing file is under `dir`. */
  async loopsUnder(dir: string): Promise<string[]> {
    return (await this.loops()).filter((l) => inside(dir, l.backFile)).map((l) => l.device);
  }

  async mounts(): Promise<MountedEntry[]> {
    const text = await fs.readFile('/proc/mounts', 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [device = '', mountpoint = '', fstype = ''] = l.split(' ');
        return { device: unescapeMount(device), mountpoint: unescapeMount(mountpoint), fstype };
      });
  }

  /** Mounts under `dir`, deepest first (the order to unmount them). */
  async mountsUnder(dir: string): Promise<MountedEntry[]> {
    return (await this.mounts()).filter((m) => inside(dir, m.mountpoint)).sort((a, b) => b.mountpoint.length - a.mountpoint.length);
  }

  /** A kernel filesystem: `mount -t type -o options`. */
  async mountKernel(type: string, device: string, mountpoint: string, options: readonly string[]): Promise<void> {
    await this.runner.run('mount', ['-t', type, '-o', options.join(','), device, mountpoint]).catch((err: unknown) => {
      throw new MountHostError(`mount -t ${type} failed: ${firstLine(errText(err))}`);
    });
  }

  /** A FUSE driver (ntfs-3g, fusefat, exfat-fuse): it daemonises once the mount is up. */
  async mountFuse(driver: string, device: string, mountpoint: string, options: readonly string[]): Promise<void> {
    await this.runner.run(driver, ['-o', options.join(','), device, mountpoint]).catch((err: unknown) => {
      throw new MountHostError(`${driver} failed: ${firstLine(errText(err))}`);
    });
  }

  /** Unmounts; retries a busy mount for a while, then detaches it lazily as a last resort. */
  async unmount(mountpoint: string): Promise<void> {
    for (let i = 0; i < 30; i++) {
      try {
        await this.runner.run('umount', [mountpoint]);
        return;
      } catch {
        if (!(await this.mounts()).some((m) => m.mountpoint === mountpoint)) return;
        await sleep(100);
      }
    }
    await this.runner.run('umount', ['-l', mountpoint]);
  }

  /**
   * Starts nbdfuse exposing `uri` as `mountpoint/<name>`; resolves with its pid once it
   * serves (its pid file appears). It outlives this process on purpose: a crash leaves it to
   * cleanup, which finds it by its mountpoint.
   */
  async startNbdfuse(opts: { mountpoint: string; name: string; uri: string; pidFile: string; logFile: string; readOnly: boolean; timeoutMs?: number }): Promise<number> {
    const log = await fs.open(opts.logFile, 'a', 0o600);
    const args = [...(opts.readOnly ? ['--readonly'] : []), '-P', opts.pidFile, `${opts.mountpoint}/${opts.name}`, opts.uri];
    let exited: number | null | undefined;
    try {
      const child = spawn('nbdfuse', args, { detached: true, stdio: ['ignore', 'ignore', log.fd], env: { ...process.env, LC_ALL: 'C' } });
      child.once('error', () => (exited = null));
      child.once('exit', (code) => (exited = code));
      child.unref();
    } finally {
      await log.close();
    }
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      const pid = Number((await fs.readFile(opts.pidFile, 'utf8').catch(() => '')).trim());
      if (pid > 0) return pid;
      if (exited !== undefined) break;
      await sleep(20);
    }
    const why = await fs.readFile(opts.logFile, 'utf8').catch(() => '');
    throw new MountHostError(`nbdfuse did not start${exited === undefined ? ' in time' : ` (exit ${String(exited)})`}: ${firstLine(why)}`);
  }

  /** Unmounts a FUSE mount of ours (nbdfuse then exits by itself). */
  async fuseUnmount(mountpoint: string): Promise<void> {
    try {
      await this.runner.run('fusermount3', ['-u', mountpoint]);
    } catch {
      if (!(await this.mounts()).some((m) => m.mountpoint === mountpoint)) return;
      await this.unmount(mountpoint);
    }
  }

  /** Processes (other than this one) whose command line names something under `dir`. */
  async processesUsing(dir: string): Promise<number[]> {
    const pids: number[] = [];
    for (const name of await fs.readdir('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.split('\0').some((arg) => arg.includes(dir))) pids.push(pid);
    }
    return pids;
  }

  /** Waits for processes to exit; SIGTERM then SIGKILL those that do not. */
  async endProcesses(pids: readonly number[], graceMs = 3000): Promise<void> {
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const waitGone = async (ms: number) => {
      const until = Date.now() + ms;
      while (pids.some(alive) && Date.now() < until) await sleep(20);
    };
    await waitGone(graceMs);
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGTERM');
    await waitGone(2000);
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    await waitGone(2000);
  }
}

function errText(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return e.stderr && e.stderr.trim() !== '' ? e.stderr : (e.message ?? String(err));
}
