/**
 * After a committed backup of a running VM: removes the vPlus checkpoints older than the new
 * base, except those another destination's chain still starts from. Each checkpoint holds a
 * dirty bitmap per disk that QEMU updates on every write, so keeping them all costs write
 * overhead and disk space for nothing. `virsh checkpoint-delete` of a running domain merges the
 * checkpoint's bitmap into its parent, so every checkpoint that stays still covers every change
 * since it was taken.
 */
import { CHECKPOINT_PREFIX } from './pull-backup-job.js';
import type { Virsh } from './virsh.adapter.js';

export interface PruneCheckpointsResult {
  /** Deleted, oldest first. */
  removed: string[];
  /** Problems (never fatal: the backup is committed). */
  warnings: string[];
}

/**
 * Deletes the ancestors of `base` (walking `checkpoint-parent`) whose names carry the vPlus
 * prefix and are not in `keep`, oldest first. Only ancestors: a checkpoint newer than `base`
 * (another backup started meanwhile) is never touched, nor one an admin made by hand.
 */
export async function pruneCheckpoints(virsh: Virsh, domain: string, base: string, keep: readonly string[]): Promise<PruneCheckpointsResult> {
  const warnings: string[] = [];
  const ancestors: string[] = [];
  try {
    const seen = new Set([base]);
    for (let cp = await virsh.checkpointParent(domain, base); cp && !seen.has(cp); cp = await virsh.checkpointParent(domain, cp)) {
      seen.add(cp);
      ancestors.push(cp);
    }
  } catch (err) {
    warnings.push(`cannot list the older checkpoints of ${domain} to remove them (${(err as Error).message}); they stay until the next backup`);
    return { removed: [], warnings };
  }
  const keepSet = new Set(keep);
  const removed: string[] = [];
  for (const cp of ancestors.reverse()) {
    if (!cp.startsWith(CHECKPOINT_PREFIX) || keepSet.has(cp)) continue;
    try {
      await virsh.deleteCheckpoint(domain, cp);
      removed.push(cp);
    } catch (err) {
      warnings.push(`removing old checkpoint ${cp} of ${domain} failed (${(err as Error).message}); it stays until the next backup`);
    }
  }
  return { removed, warnings };
}
