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
 * Deletes the ancestors of `base` (its parent, that one's parent, …) whose names carry the
 * vPlus prefix and are not in `keep`, oldest first. Only ancestors: a checkpoint newer than
 * `base` (another backup started meanwhile) is never touched, nor one an admin made by hand.
 * Two virsh processes: the list with parents, then the deletes.
 */
export async function pruneCheckpoints(virsh: Virsh, domain: string, base: string, keep: readonly string[]): Promise<PruneCheckpointsResult> {
  const warnings: string[] = [];
  const ancestors: string[] = [];
  try {
    const parents = await virsh.checkpointParents(domain);
    const seen = new Set([base]);
    for (let cp = parents.get(base) ?? null; cp && !seen.has(cp); cp = parents.get(cp) ?? null) {
      seen.add(cp);
      ancestors.push(cp);
    }
  } catch (err) {
    warnings.push(`cannot list the older checkpoints of ${domain} to remove them (${(err as Error).message}); they stay until the next backup`);
    return { removed: [], warnings };
  }
  const keepSet = new Set(keep);
  const doomed = ancestors.reverse().filter((cp) => cp.startsWith(CHECKPOINT_PREFIX) && !keepSet.has(cp));
  const removed: string[] = [];
  let outcomes;
  try {
    outcomes = await virsh.deleteCheckpoints(domain, doomed);
  } catch (err) {
    warnings.push(`removing old checkpoints ${doomed.join(', ')} of ${domain} failed (${(err as Error).message}); they stay until the next backup`);
    return { removed, warnings };
  }
  for (const [i, cp] of doomed.entries()) {
    const o = outcomes[i]!;
    if (o.ok) removed.push(cp);
    else warnings.push(`removing old checkpoint ${cp} of ${domain} failed (${o.error.message}); it stays until the next backup`);
  }
  return { removed, warnings };
}
