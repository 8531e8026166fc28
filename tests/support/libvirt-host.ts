/**
 * A real libvirt host for integration tests: the system libvirtd (qemu:///system) started
 * by the tests themselves when nothing runs it (no systemd here), and throwaway VMs over
 * qcow2 disks with known content. QEMU runs in TCG mode (domain type 'qemu') with no OS:
 * it only has to run so QEMU holds the disks, which is all a backup job needs.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureLibvirtDaemons } from '../../node-service/platforms/kvm/libvirt-daemons.js';
import { scratchDomainXml } from '../../node-service/platforms/kvm/scratch-domain.js';
import { requireBinary } from './requirements.js';

const exec = promisify(execFile);
export const LIBVIRT_URI = 'qemu:///system';
const INSTALL = 'sudo apt-get install -y libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils libnbd-bin';

/** Runs a command; rejects with its stderr (tests want to see libvirt's words). */
export async function sh(file: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await exec(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export const virsh = (...args: string[]): Promise<string> => sh('virsh', ['-c', LIBVIRT_URI, ...args]);

export function requireKvmTools(): void {
  requireBinary(['/usr/sbin/libvirtd'], INSTALL);
  requireBinary(['/usr/sbin/virtlogd'], INSTALL);
  requireBinary(['/usr/bin/virsh'], INSTALL);
  requireBinary(['/usr/bin/qemu-system-x86_64'], INSTALL);
  requireBinary(['/usr/bin/qemu-img'], INSTALL);
  requireBinary(['/usr/bin/qemu-io'], INSTALL);
  requireBinary(['/usr/bin/nbdinfo'], INSTALL);
}

/**
 * Makes sure virtlogd and libvirtd run (the tests start them themselves where no init system
 * does); see ensureLibvirtDaemons for why each is checked by talking to it.
 */
export async function ensureLibvirt(): Promise<void> {
  requireKvmTools();
  if (process.getuid?.() !== 0) throw new Error('the KVM tests need root (they run the system libvirtd and QEMU as libvirt-qemu)');
  await ensureLibvirtDaemons(LIBVIRT_URI);
}

export interface PatternWrite {
  /** Byte pattern (0x00-0xff); 'zero' writes zeroes the way a guest TRIM/write-zeroes would. */
  pattern: number | 'zero';
  offset: number;
  length: number;
}

export interface TestVm {
  name: string;
  uuid: string;
  disks: { target: string; path: string }[];
}

/** A directory of test VMs; cleanup() removes every VM it defined and all its files. */
export class LibvirtTestHost {
  readonly dir: string;
  private readonly vms = new Set<string>();

  constructor(label: string) {
    // Under /var/tmp, not a private 0700 temp dir: QEMU (libvirt-qemu) must reach the disks.
    this.dir = fs.mkdtempSync(path.join('/var/tmp', `vplus-kvm-${label}-`));
    fs.chmodSync(this.dir, 0o755);
  }

  /** A qcow2 disk of `sizeMiB` MiB with the given writes. */
  async createDisk(file: string, sizeMiB: number, writes: PatternWrite[] = []): Promise<string> {
    const p = path.join(this.dir, file);
    await sh('qemu-img', ['create', '-q', '-f', 'qcow2', p, `${sizeMiB}M`]);
    await this.write(p, writes);
    return p;
  }

  /** Writes patterns with qemu-io (the VM must be off: a running VM's image is locked). */
  async write(image: string, writes: PatternWrite[], format = 'qcow2'): Promise<void> {
    if (writes.length === 0) return;
    const cmds = writes.flatMap((w) => ['-c', w.pattern === 'zero' ? `write -z ${w.offset} ${w.length}` : `write -P ${w.pattern} ${w.offset} ${w.length}`]);
    await sh('qemu-io', ['-f', format, ...cmds, image]);
  }

  /** Defines (not starts) a VM over the given disks, in TCG mode, with no network or display. */
  async defineVm(disks: { target: string; path: string; format?: string }[], name = `vplus-test-${randomBytes(4).toString('hex')}`): Promise<TestVm> {
    const xml = scratchDomainXml(name, disks);
    const file = path.join(this.dir, `${name}.xml`);
    fs.writeFileSync(file, xml);
    await virsh('define', file);
    this.vms.add(name);
    const uuid = (await virsh('domuuid', name)).trim();
    return { name, uuid, disks: disks.map((d) => ({ target: d.target, path: d.path })) };
  }

  start(vm: TestVm): Promise<string> {
    return virsh('start', vm.name);
  }

  /** Powers the VM off at once (there is no guest OS to shut down cleanly); bitmaps are still flushed by QEMU. */
  async destroy(vm: TestVm): Promise<void> {
    if ((await virsh('domstate', vm.name)).trim() !== 'shut off') await virsh('destroy', vm.name);
  }

  async cleanup(): Promise<void> {
    for (const name of this.vms) {
      await virsh('destroy', name).catch(() => undefined); // already off is fine
      await virsh('undefine', name, '--checkpoints-metadata', '--snapshots-metadata').catch((err: unknown) => console.error(`cleanup of ${name}: ${String(err)}`));
    }
    this.vms.clear();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** A scratch directory for a test (restores, repositories, NBD work dirs). */
  subdir(name: string): string {
    const p = path.join(this.dir, name);
    fs.mkdirSync(p, { recursive: true });
    return p;
  }
}

export const MiB = 1024 * 1024;
