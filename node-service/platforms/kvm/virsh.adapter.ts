/**
 * libvirt through `virsh`: the node talks to the local hypervisor with the same tool an admin
 * would use, so every failure is reproducible by hand. One method per virsh command we need;
 * questions asked together go through one virsh process (`domainFacts`): starting virsh and
 * connecting costs 15–100 ms (more on a loaded machine), a command in it a few.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandRunner, RunOptions } from './command-runner.js';
import { CommandError, KvmError } from './errors.js';

export type DomainState = 'running' | 'paused' | 'shut off' | 'shutdown' | 'crashed' | 'pmsuspended' | 'idle' | 'in shutdown' | 'blocked' | 'unknown';

export interface BlockInfo {
  capacity: number;
  allocation: number;
  physical: number;
}

/** One command's outcome in a batch: its output, or why it failed. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: KvmError };

/** What a backup asks first (see `domainFacts`). */
export interface DomainFacts {
  state: Outcome<DomainState>;
  liveXml: Outcome<string>;
  inactiveXml: Outcome<string>;
  /** The checkpoint's XML; null when none was asked for. */
  checkpointXml: Outcome<string> | null;
  /** The same with each disk's bitmap size (only a running domain answers); null when none was asked for. */
  checkpointSizedXml: Outcome<string> | null;
}

export class Virsh {
  constructor(
    private readonly runner: CommandRunner,
    readonly uri = 'qemu:///system',
    private readonly timeoutMs = 60_000,
  ) {}

  private async virsh(args: string[], options: RunOptions = {}): Promise<string> {
    try {
      const { stdout } = await this.runner.run('virsh', ['-c', this.uri, ...args], { timeoutMs: this.timeoutMs, ...options });
      return stdout;
    } catch (err) {
      throw this.domainError(err, args[1] ?? '');
    }
  }

  private domainError(err: unknown, domain: string): unknown {
    if (err instanceof CommandError && /failed to get domain|Domain not found/i.test(err.stderr)) {
      return new KvmError('KVM_DOMAIN_NOT_FOUND', `virtual machine "${domain}" does not exist on ${this.uri}`, { cause: err });
    }
    return err;
  }

  /**
   * Several commands in one virsh process (one connection). virsh runs them in order and goes
   * on after a failure; a random marker echoed after each splits the output, and a command
   * whose part is blank failed, so only commands that always print something when they
   * succeed belong here. stderr is shared: a failed command's error carries all of it.
   */
  private async batch(commands: readonly (readonly string[])[]): Promise<Outcome<string>[]> {
    const marker = `vplus-batch-${randomBytes(8).toString('hex')}`;
    const script = commands.map((c) => [...c.map(virshQuote), ';', 'echo', marker].join(' ')).join(' ; ');
    const { stdout, stderr } = await this.runner.run('virsh', ['-c', this.uri, script], { timeoutMs: this.timeoutMs });
    const parts = stdout.split(`${marker}\n`);
    if (parts.length !== commands.length + 1) {
      throw new CommandError(`virsh ${commands.map((c) => c[0]).join(', ')}`, 0, `unexpected output of a batch of virsh commands: ${stderr || stdout.slice(0, 200)}`);
    }
    return commands.map((c, i) => {
      const out = parts[i]!;
      if (out.trim() !== '') return { ok: true, value: out };
      const error = this.domainError(new CommandError(['virsh', ...c.slice(0, 3)].join(' '), 1, stderr), c[1] ?? '');
      return { ok: false, error: error as KvmError };
    });
  }

  /**
   * The state, the live and the inactive XML, and with `checkpoint` that checkpoint's XML
   * plain and with bitmap sizes, in one virsh process: what every backup asks first.
   */
  async domainFacts(domain: string, checkpoint: string | null): Promise<DomainFacts> {
    const r = await this.batch([
      ['domstate', domain],
      ['dumpxml', domain],
      ['dumpxml', domain, '--inactive'],
      ...(checkpoint ? [['checkpoint-dumpxml', domain, checkpoint], ['checkpoint-dumpxml', domain, checkpoint, '--size']] : []),
    ]);
    const state = r[0]!;
    return {
      state: state.ok ? { ok: true, value: (state.value.trim() || 'unknown') as DomainState } : state,
      liveXml: r[1]!,
      inactiveXml: r[2]!,
      checkpointXml: r[3] ?? null,
      checkpointSizedXml: r[4] ?? null,
    };
  }

  async listDomains(): Promise<string[]> {
    const out = await this.virsh(['list', '--all', '--uuid']);
    return lines(out);
  }

  /** UUIDs of the running (and paused) domains. */
  async listActive(): Promise<string[]> {
    return lines(await this.virsh(['list', '--uuid']));
  }

  /** The live definition, or with `inactive` the persistent one (what a restore should define). */
  dumpXml(domain: string, inactive = false): Promise<string> {
    return this.virsh(['dumpxml', domain, ...(inactive ? ['--inactive'] : [])]);
  }

  async state(domain: string): Promise<DomainState> {
    const s = (await this.virsh(['domstate', domain])).trim();
    return (s || 'unknown') as DomainState;
  }

  async blockInfo(domain: string, target: string): Promise<BlockInfo> {
    const out = await this.virsh(['domblkinfo', domain, target]);
    const num = (key: string): number => Number(new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(out)?.[1] ?? NaN);
    return { capacity: num('Capacity'), allocation: num('Allocation'), physical: num('Physical') };
  }

  start(domain: string): Promise<string> {
    return this.virsh(['start', domain]);
  }

  async checkpoints(domain: string): Promise<string[]> {
    return lines(await this.virsh(['checkpoint-list', domain, '--name']));
  }

  /** With `withSize` (running VMs only) QEMU reports each disk's bitmap size: proof the bitmap exists. */
  checkpointXml(domain: string, checkpoint: string, withSize = false): Promise<string> {
    return this.virsh(['checkpoint-dumpxml', domain, checkpoint, ...(withSize ? ['--size'] : [])]);
  }

  /** Every checkpoint's parent (null for a root), from one `checkpoint-list --parent`. */
  async checkpointParents(domain: string): Promise<Map<string, string | null>> {
    const parents = new Map<string, string | null>();
    // " name   2026-12-07 15:40:26 +0000   parent": a line of another shape is left out, so a
    // walk up the chain stops early rather than going wrong.
    for (const l of lines(await this.virsh(['checkpoint-list', domain, '--parent']))) {
      const m = /^(\S+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}(?:\s+(\S+))?$/.exec(l);
      if (m) parents.set(m[1]!, m[2] ?? null);
    }
    return parents;
  }

  /** The checkpoint's parent (the one created before it), or null for a root. */
  async checkpointParent(domain: string, checkpoint: string): Promise<string | null> {
    try {
      return (await this.virsh(['checkpoint-parent', domain, '--checkpointname', checkpoint])).trim() || null;
    } catch (err) {
      if (err instanceof CommandError && /has no parent/i.test(err.stderr)) return null;
      throw err;
    }
  }

  /** Deletes a checkpoint; libvirt merges its bitmap into the parent so later checkpoints stay valid. */
  async deleteCheckpoint(domain: string, checkpoint: string, metadataOnly = false): Promise<void> {
    await this.virsh(['checkpoint-delete', domain, checkpoint, ...(metadataOnly ? ['--metadata'] : [])]);
  }

  /** Deletes checkpoints in this order, in one virsh process; each outcome in the same order. */
  async deleteCheckpoints(domain: string, checkpoints: readonly string[]): Promise<Outcome<string>[]> {
    return checkpoints.length === 0 ? [] : this.batch(checkpoints.map((c) => ['checkpoint-delete', domain, c]));
  }

  /** Internal snapshots' names (libvirt metadata; includes snapshots of a shut-off VM). */
  async snapshotNames(domain: string): Promise<string[]> {
    return lines(await this.virsh(['snapshot-list', domain, '--name']));
  }

  snapshotXml(domain: string, snapshot: string): Promise<string> {
    return this.virsh(['snapshot-dumpxml', domain, snapshot]);
  }

  /** The current snapshot's name, or null when there is none. */
  async currentSnapshot(domain: string): Promise<string | null> {
    try {
      return (await this.virsh(['snapshot-current', domain, '--name'])).trim() || null;
    } catch (err) {
      if (err instanceof CommandError && /no current snapshot|does not have a current snapshot/i.test(err.stderr)) return null;
      throw err;
    }
  }

  /** An internal snapshot (disks, and memory when the VM runs); can take long for a big VM's memory. */
  async snapshotCreate(domain: string, name: string, description?: string): Promise<void> {
    await this.virsh(['snapshot-create-as', domain, '--name', name, ...(description ? ['--description', description] : [])], { timeoutMs: SNAPSHOT_TIMEOUT_MS });
  }

  async snapshotRevert(domain: string, name: string): Promise<void> {
    await this.virsh(['snapshot-revert', domain, '--snapshotname', name], { timeoutMs: SNAPSHOT_TIMEOUT_MS });
  }

  async snapshotDelete(domain: string, name: string): Promise<void> {
    await this.virsh(['snapshot-delete', domain, '--snapshotname', name], { timeoutMs: SNAPSHOT_TIMEOUT_MS });
  }

  /** Starts a backup job; the XML documents go through files because virsh takes only paths. */
  async backupBegin(domain: string, backupXml: string, checkpointXml: string | null, xmlDir: string): Promise<void> {
    const b = path.join(xmlDir, 'backup.xml');
    const c = path.join(xmlDir, 'checkpoint.xml');
    await writeFile(b, backupXml, { mode: 0o600 });
    if (checkpointXml) await writeFile(c, checkpointXml, { mode: 0o600 });
    await this.virsh(['backup-begin', domain, '--backupxml', b, ...(checkpointXml ? ['--checkpointxml', c] : [])]);
  }

  /** The active job's backup XML (its NBD socket tells whether the job is ours). */
  backupXml(domain: string): Promise<string> {
    return this.virsh(['backup-dumpxml', domain]);
  }

  /**
   * The NBD socket of the domain's active pull-mode backup job: whose job it is (every export
   * has its own directory). Null when the domain runs no backup job (none, another kind of
   * job such as a migration, or shut off): one virsh call, the question of every poll.
   */
  async backupSocket(domain: string): Promise<string | null> {
    let xml: string;
    try {
      xml = await this.backupXml(domain);
    } catch (err) {
      if (err instanceof CommandError && /no domain backup job|not running/i.test(err.stderr)) return null;
      throw err;
    }
    return /<server\b[^>]*\bsocket=['"]([^'"]+)['"]/.exec(xml)?.[1] ?? null;
  }

  /** Ends the domain's active job (for a pull backup: the normal way to finish it). */
  async abortJob(domain: string): Promise<void> {
    await this.virsh(['domjobabort', domain]);
  }

  /** "libvirt 9.0.0, QEMU 7.2.22" from `virsh version`, or null when virsh does not say. */
  async version(): Promise<string | null> {
    const out = await this.virsh(['version']);
    const lib = /Using library:\s*(\S+\s+\S+)/.exec(out)?.[1];
    const hv = /Running hypervisor:\s*(\S+\s+\S+)/.exec(out)?.[1];
    return [lib, hv].filter((x) => x !== undefined).join(', ') || null;
  }

  /** Whether a domain of this name (or UUID) is defined. */
  async exists(domain: string): Promise<boolean> {
    try {
      await this.virsh(['domuuid', domain]);
      return true;
    } catch (err) {
      if (err instanceof KvmError && err.code === 'KVM_DOMAIN_NOT_FOUND') return false;
      throw err;
    }
  }

  /** Defines a persistent domain from an XML file; returns its UUID. */
  async define(xmlFile: string): Promise<void> {
    await this.virsh(['define', xmlFile]);
  }

  /** Removes the definition only (never storage), with its checkpoint and snapshot metadata and NVRAM. */
  async undefine(domain: string): Promise<void> {
    await this.virsh(['undefine', domain, '--checkpoints-metadata', '--snapshots-metadata', '--nvram']);
  }

  /** Powers a running domain off at once. */
  async destroy(domain: string): Promise<void> {
    await this.virsh(['destroy', domain]);
  }

  /** Whether a job (e.g. our backup) is still active: "None" when idle. */
  async hasActiveJob(domain: string): Promise<boolean> {
    const out = await this.virsh(['domjobinfo', domain]);
    return !/^Job type:\s*None/m.test(out);
  }
}

/** Saving or loading a VM's memory runs at disk speed; a big VM takes minutes. */
const SNAPSHOT_TIMEOUT_MS = 30 * 60_000;

/** One argument of a virsh command line (virsh's own tokenizer: a backslash escapes the next character). */
function virshQuote(arg: string): string {
  if (/[\n\r\0]/.test(arg)) throw new KvmError('KVM_COMMAND_FAILED', `a virsh argument cannot contain a line break: ${JSON.stringify(arg)}`);
  return arg.replace(/[^A-Za-z0-9._/:=@,+-]/g, '\\$&');
}

function lines(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
