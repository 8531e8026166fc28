import { DEFAULT_SNAPSHOTS_KEPT, type Snapshot } from '@common/api/index.js';

export interface SnapshotStateView {
  label: string;
  color: string;
  /** What going back to it means, in a few words. */
  detail: string;
}

/** The domain state a snapshot captured, as libvirt's snapshot XML names it. */
export function describeSnapshotState(state: Snapshot['state']): SnapshotStateView {
  switch (state) {
    case 'running':
      return { label: 'Running', color: 'green', detail: 'disks and memory: the VM runs on from that moment' };
    case 'shutoff':
      return { label: 'Shut off', color: 'gray', detail: 'disks only: the VM is shut off afterwards' };
    case 'paused':
      return { label: 'Paused', color: 'yellow', detail: 'disks and memory: the VM is paused afterwards' };
    case 'disk-snapshot':
      return { label: 'Disks only', color: 'gray', detail: 'disks only' };
    default: {
      const label = state === '' ? 'Unknown' : state.charAt(0).toUpperCase() + state.slice(1);
      return { label, color: 'gray', detail: `as libvirt recorded it (${state || 'unknown'})` };
    }
  }
}

/**
 * The policy a snapshot was taken by: snapshot policies name theirs `vplus-p<policy id>-<UTC
 * time>` and rotate only those. Null for snapshots taken by hand.
 */
export function snapshotPolicyId(name: string): number | null {
  const match = /^vplus-p(\d+)-/.exec(name);
  return match === null ? null : Number(match[1]);
}


/** "Keeps the last 3 snapshots" (of each VM: a snapshot policy rotates per VM). */
export function describeSnapshotRetention(keepLast: number | undefined): string {
  const kept = keepLast ?? DEFAULT_SNAPSHOTS_KEPT;
  return kept === 1 ? 'Keeps the last snapshot' : `Keeps the last ${kept} snapshots`;
}
