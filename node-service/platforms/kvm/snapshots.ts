/**
 * Internal snapshots of a VM through libvirt (`virsh snapshot-*`): the disks' state (qcow2
 * internal snapshots) and, for a running VM, its memory. What libvirt 9 / QEMU 7.2 allow next
 * to our backup checkpoints is in the README ("Snapshots and the checkpoint chain"); the one
 * operation that would do harm, a revert while checkpoints exist (QEMU refuses to load a
 * snapshot over dirty bitmaps, after libvirt has already stopped the VM), is refused here
 * before libvirt is asked.
 */
import { randomBytes } from 'node:crypto';
import { CommandError, KvmError } from './errors.js';
import { CHECKPOINT_PREFIX } from './pull-backup-job.js';
import type { Virsh } from './virsh.adapter.js';

export interface SnapshotInfo {
  name: string;
  /** ISO 8601. */
  createdAt: string;
  /** The domain state the snapshot captured: running (memory included), shutoff, paused… */
  state: string;
  current: boolean;
}

/** What libvirt accepts as a snapshot name and what we allow (no slashes, no leading dot or dash). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class KvmSnapshots {
  constructor(private readonly virsh: Virsh) {}

  /** Oldest first. `domain` is a name or UUID; `label` is how messages name the VM. */
  async list(domain: string, label = domain): Promise<SnapshotInfo[]> {
    const names = await this.virsh.snapshotNames(domain);
    const current = names.length > 0 ? await this.virsh.currentSnapshot(domain) : null;
    const out: SnapshotInfo[] = [];
    for (const name of names) {
      let xml: string;
      try {
        xml = await this.virsh.snapshotXml(domain, name);
      } catch (err) {
        // Deleted between the two calls.
        if (isNotFound(err)) continue;
        throw wrap(err, `reading snapshot "${name}" of VM ${label}`);
      }
      const epoch = Number(/<creationTime>(\d+)<\/creationTime>/.exec(xml)?.[1] ?? NaN);
      out.push({
        name,
        createdAt: Number.isFinite(epoch) ? new Date(epoch * 1000).toISOString() : new Date(0).toISOString(),
        state: /<state>([^<]+)<\/state>/.exec(xml)?.[1] ?? 'unknown',
        current: name === current,
      });
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  }

  /** Creates an internal snapshot; returns its name (`vplus-<UTC time>-<hex>` when none is given). */
  async create(domain: string, name: string | undefined, label = domain): Promise<string> {
    const snap = name ?? defaultName();
    checkName(snap);
    if ((await this.virsh.snapshotNames(domain)).includes(snap)) {
      throw new KvmError('KVM_SNAPSHOT', `VM ${label} already has a snapshot named "${snap}"; choose another name or delete that snapshot first`);
    }
    try {
      await this.virsh.snapshotCreate(domain, snap, 'vPlus snapshot');
    } catch (err) {
      const stderr = err instanceof CommandError ? err.stderr : '';
      if (/block operations while checkpoint exists/i.test(stderr)) {
        throw new KvmError(
          'KVM_SNAPSHOT',
          `cannot take a snapshot of VM ${label} while it is shut off: it has backup checkpoints, and libvirt takes snapshots of a shut-off VM with qemu-img, which it refuses while checkpoints exist; start the VM and take the snapshot while it runs`,
          { cause: err },
        );
      }
      if (/internal snapshot.*unsupported|does not support internal snapshot|not supported for.*raw|storage type/i.test(stderr)) {
        throw new KvmError('KVM_SNAPSHOT', `cannot take a snapshot of VM ${label}: internal snapshots need every disk in qcow2 format (${oneLine(stderr)})`, { cause: err });
      }
      throw wrap(err, `creating snapshot "${snap}" of VM ${label}`);
    }
    return snap;
  }

  /**
   * Reverts to a snapshot. Refused while the VM has checkpoints (unless `discardCheckpoints`
   * deletes vPlus's own first; returns those deleted): QEMU will not load a snapshot
   * over persistent dirty bitmaps ("Device has active dirty bitmaps"), and libvirt stops a
   * running VM before it finds out, leaving it shut off with its bitmaps marked in use.
   */
  async revert(domain: string, name: string, label = domain, options: { discardCheckpoints?: boolean } = {}): Promise<string[]> {
    await this.requireSnapshot(domain, name, label);
    let checkpoints = await this.virsh.checkpoints(domain);
    const discarded: string[] = [];
    if (checkpoints.length > 0 && options.discardCheckpoints) {
      const foreign = checkpoints.filter((c) => !c.startsWith(CHECKPOINT_PREFIX));
      if (foreign.length > 0) {
        throw new KvmError('KVM_SNAPSHOT', `cannot revert VM ${label} to snapshot "${name}": it has checkpoints vPlus did not make (${foreign.join(', ')}); delete them with virsh checkpoint-delete first; nothing was changed`);
      }
      // Newest first; deleting a checkpoint of a running VM merges its bitmap into the parent.
      for (const cp of [...checkpoints].reverse()) {
        try {
          await this.virsh.deleteCheckpoint(domain, cp);
          discarded.push(cp);
        } catch (err) {
          throw wrap(err, `deleting backup checkpoint ${cp} of VM ${label} before the revert (${discarded.length} deleted so far; the VM was not reverted)`);
        }
      }
      checkpoints = await this.virsh.checkpoints(domain);
    }
    if (checkpoints.length > 0) {
      throw new KvmError(
        'KVM_SNAPSHOT',
        `cannot revert VM ${label} to snapshot "${name}": the VM has ${checkpoints.length === 1 ? 'a backup checkpoint' : `${checkpoints.length} backup checkpoints`} (${checkpoints.join(', ')}), and QEMU refuses to load a snapshot while the dirty bitmaps behind them exist (libvirt would stop the VM first); nothing was changed. Revert with "discard checkpoints" to delete them first (the next backup is then a full one)`,
      );
    }
    try {
      await this.virsh.snapshotRevert(domain, name);
    } catch (err) {
      throw wrap(err, `reverting VM ${label} to snapshot "${name}"`);
    }
    return discarded;
  }

  async delete(domain: string, name: string, label = domain): Promise<void> {
    await this.requireSnapshot(domain, name, label);
    try {
      await this.virsh.snapshotDelete(domain, name);
    } catch (err) {
      throw wrap(err, `deleting snapshot "${name}" of VM ${label}`);
    }
  }

  private async requireSnapshot(domain: string, name: string, label: string): Promise<void> {
    const names = await this.virsh.snapshotNames(domain);
    if (!names.includes(name)) {
      throw new KvmError('KVM_SNAPSHOT_NOT_FOUND', `VM ${label} has no snapshot "${name}"${names.length ? `; its snapshots are ${names.join(', ')}` : '; it has no snapshots'}`);
    }
  }
}

/** `vplus-20240102T030405Z-1a2b`: sorts by time, unique enough for one VM. */
function defaultName(now = new Date()): string {
  return `vplus-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new KvmError('KVM_SNAPSHOT', `"${name}" is not a valid snapshot name: use up to 64 letters, digits, ".", "_" and "-", starting with a letter or digit`);
}

function isNotFound(err: unknown): boolean {
  return err instanceof CommandError && /snapshot not found|no domain snapshot/i.test(err.stderr);
}

function oneLine(stderr: string): string {
  return stderr.replace(/^error:\s*/gim, '').replace(/\s+/g, ' ').trim().replace(/\.$/, '');
}

/** "creating snapshot s1 of VM web failed: <libvirt's words>" with the original as cause. */
function wrap(err: unknown, what: string): unknown {
  if (err instanceof KvmError && err.code === 'KVM_DOMAIN_NOT_FOUND') return err;
  if (err instanceof CommandError) {
    if (isNotFound(err)) return new KvmError('KVM_SNAPSHOT_NOT_FOUND', `${what} failed: ${oneLine(err.stderr)}`, { cause: err });
    return new KvmError(err.code === 'KVM_COMMAND_TIMEOUT' ? 'KVM_COMMAND_TIMEOUT' : 'KVM_SNAPSHOT', `${what} failed: ${oneLine(err.stderr) || err.message}`, { cause: err });
  }
  return err;
}
