/**
 * Decides whether an incremental backup is safe: its base checkpoint must still exist in
 * libvirt with a consistent bitmap in every disk, cover the same disks, and match the
 * repository's previous backup. Any doubt means a full backup with the reason as a warning —
 * a silently wrong incremental is the one outcome a backup product must never produce.
 */
import type { BackupManifest } from '../../repository/index.js';
import type { DomainDiskXml } from './domain-xml.js';
import type { CommandRunner } from './command-runner.js';

export interface PreviousBackup {
  checkpoint: string;
  backupId: string;
}

/** Which disks hold a consistent bitmap for a checkpoint (see `runningBitmaps`, `offlineBitmaps`). */
export type BitmapProbe = (checkpoint: string) => Promise<{ name: string; usable: boolean }[]>;

export type ChainVerdict = { ok: true; manifest: BackupManifest } | { ok: false; reason: string };

/** What the check is decided on, gathered by the caller while it asks libvirt its other questions. */
export interface ChainFacts {
  /** The previous backup's manifest (loading may have started already). */
  manifest: Promise<BackupManifest>;
  /** Whether libvirt still has the checkpoint; a reason when it does not or cannot tell. */
  checkpoint: { exists: true } | { exists: false; reason: string };
  bitmaps: BitmapProbe;
}

export async function checkChain(facts: ChainFacts, disks: readonly DomainDiskXml[], previous: PreviousBackup): Promise<ChainVerdict> {
  const { checkpoint, backupId } = previous;
  let manifest: BackupManifest;
  try {
    manifest = await facts.manifest;
  } catch (err) {
    return { ok: false, reason: `the previous backup ${backupId} cannot be loaded (${(err as Error).message})` };
  }
  const recorded = (manifest.source as { checkpoint?: unknown } | null)?.checkpoint;
  if (recorded !== checkpoint) {
    return { ok: false, reason: `the previous backup ${backupId} was taken at checkpoint ${String(recorded)}, not ${checkpoint}` };
  }
  const names = disks.map((d) => d.target).sort();
  const before = manifest.disks.map((d) => d.name).sort();
  if (names.join(',') !== before.join(',')) {
    return { ok: false, reason: `the disk set changed since the previous backup (${before.join(', ')} → ${names.join(', ')})` };
  }
  if (!facts.checkpoint.exists) return { ok: false, reason: facts.checkpoint.reason };
  // The qcow2 header is not the truth for a running VM (QEMU writes new bitmaps there only
  // when it closes the image), so a running VM's come from QEMU through libvirt (the
  // checkpoint's XML with sizes); a shut-off VM's images are read directly (see offlineBitmaps).
  const covered = await facts.bitmaps(checkpoint);
  for (const name of names) {
    const disk = covered.find((c) => c.name === name);
    if (!disk) return { ok: false, reason: `checkpoint ${checkpoint} does not track disk ${name}` };
    if (!disk.usable) return { ok: false, reason: `disk ${name} has no usable bitmap for checkpoint ${checkpoint} (removed or damaged outside vPlus)` };
  }
  return { ok: true, manifest };
}

/**
 * A shut-off VM's bitmaps, from the qcow2 headers: libvirt names each bitmap after its
 * checkpoint; a bitmap flagged `in-use` was not saved cleanly (QEMU crashed) and is unusable.
 */
export function offlineBitmaps(runner: CommandRunner, disks: readonly DomainDiskXml[]): BitmapProbe {
  return async (checkpoint) => {
    const out: { name: string; usable: boolean }[] = [];
    for (const d of disks) {
      if (!d.path || d.format !== 'qcow2') continue;
      const { stdout } = await runner.run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', d.path]);
      const info = JSON.parse(stdout) as { 'format-specific'?: { data?: { bitmaps?: { name: string; flags: string[] }[] } } };
      const bitmap = info['format-specific']?.data?.bitmaps?.find((b) => b.name === checkpoint);
      if (bitmap) out.push({ name: d.target, usable: !bitmap.flags.includes('in-use') });
    }
    return out;
  };
}
