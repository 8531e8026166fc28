import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Runs a tool the tests build disks with (sfdisk, mkfs.*, losetup, lvm…); its stderr in the error. */
export async function run(cmd: string, args: string[], options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const p = exec(cmd, args, { maxBuffer: 16 * 1024 * 1024, ...(options.cwd ? { cwd: options.cwd } : {}), ...(options.env ? { env: options.env } : {}) });
  if (options.input !== undefined) p.child.stdin!.end(options.input);
  try {
    return (await p).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

/** Loop devices a test attaches over parts of its disk images; detachAll() in afterAll leaves none. */
export class LoopDevices {
  private readonly attached = new Set<string>();

  constructor(private readonly env?: NodeJS.ProcessEnv) {}

  async attach(file: string, offset = 0, size?: number): Promise<string> {
    const args = ['-f', '--show', '-o', String(offset), ...(size === undefined ? [] : ['--sizelimit', String(size)]), file];
    const dev = (await run('losetup', args, this.opts())).trim();
    this.attached.add(dev);
    return dev;
  }

  /** A device just closed by mkfs or umount can be briefly busy: retried until it is gone. */
  async detach(dev: string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await run('losetup', ['-d', dev], this.opts());
        break;
      } catch (err) {
        if (!(await run('losetup', ['-l', '-n', '-O', 'NAME'], this.opts())).split('\n').some((l) => l.trim() === dev)) break;
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.attached.delete(dev);
  }

  async detachAll(): Promise<void> {
    for (const dev of [...this.attached]) await this.detach(dev);
  }

  private opts(): { env?: NodeJS.ProcessEnv } {
    return this.env ? { env: this.env } : {};
  }
}
