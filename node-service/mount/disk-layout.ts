/**
 * A backup's disks as the volumes a user can browse: partitions (vda1, vda5), LVM logical
 * volumes (vg0-root) and unpartitioned disks (vda), each with its filesystem and whether it
 * can be mounted, or why not. Everything is read in user space; the host's LVM and
 * partition scanning never see these disks.
 */
import { concatSource, sliceSource, type BlockSource } from './block-source.js';
import { probeFilesystem, type FsType, type ProbeResult } from './filesystem-probe.js';
import { mapLv, readMetadataAreas, readPvLabel, type LvmVg } from './lvm-metadata.js';
import { readPartitionTable, type PartitionKind } from './partition-table.js';

export interface DiskInput {
  /** The guest's name for the disk: vda, sdb, nvme0n1. */
  name: string;
  source: BlockSource;
}

/** A byte range of a disk that is part of a volume. */
export interface VolumeExtent {
  disk: string;
  offset: number;
  length: number;
}

export interface Volume {
  /** vda1, vda5, vg0-root (device-mapper style), or vda for a whole disk. */
  name: string;
  kind: 'whole-disk' | 'partition' | 'logical-volume';
  /** The disk it starts on. */
  disk: string;
  partition?: { index: number; kind: PartitionKind; typeId: string; name: string; bootable: boolean };
  lvm?: { vg: string; lv: string };
  /** What the probe found; null when it was not looked at (an LV that cannot be mapped). */
  type: FsType | null;
  label?: string;
  uuid?: string;
  version?: string;
  /** Its journal needs replaying (mount through a copy-on-write overlay). */
  dirty?: boolean;
  size: number;
  /** Byte offset on `disk` where it starts. */
  offset: number;
  /** Where its bytes are, in order (one range unless an LV is in pieces). */
  extents: VolumeExtent[];
  readable: boolean;
  reason?: string;
}

export interface DiskLayout {
  volumes: Volume[];
  /** Damage and oddities found on the way (a bad primary GPT, an EBR loop). */
  warnings: string[];
}

interface FoundPv {
  volume: Volume;
  uuid: string;
}

/** Linux's partition names: vda1, but nvme0n1p1 when the disk name ends in a digit. */
export function partitionName(disk: string, index: number): string {
  return /\d$/.test(disk) ? `${disk}p${index}` : `${disk}${index}`;
}

/** device-mapper's name for an LV: dashes in either name are doubled. */
export function lvDeviceName(vg: string, lv: string): string {
  return `${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
}

/** A volume's bytes as one source over the disks (for the probe and for mounting). */
export function volumeSource(volume: Pick<Volume, 'extents'>, disks: readonly DiskInput[]): BlockSource {
  return concatSource(
    volume.extents.map((e) => {
      const disk = disks.find((d) => d.name === e.disk);
      if (!disk) throw new Error(`disk ${e.disk} is not among the disks given`);
      return { source: disk.source, offset: e.offset, length: e.length };
    }),
  );
}

function withProbe(volume: Volume, probe: ProbeResult): Volume {
  const { type, readable, reason, label, uuid, version, dirty } = probe;
  return { ...volume, type, readable, ...(reason === undefined ? {} : { reason }), ...(label === undefined ? {} : { label }), ...(uuid === undefined ? {} : { uuid }), ...(version === undefined ? {} : { version }), ...(dirty === undefined ? {} : { dirty }) };
}

const NO_FILESYSTEM: Partial<Record<PartitionKind, string>> = {
  'bios-boot': 'BIOS boot partition (no filesystem)',
  'microsoft-reserved': 'Microsoft reserved partition (no filesystem)',
};

/** Walks disks: partition tables, then LVM or a filesystem on each part. */
export async function readDiskLayout(disks: readonly DiskInput[]): Promise<DiskLayout> {
  const volumes: Volume[] = [];
  const warnings: string[] = [];
  const pvs: FoundPv[] = [];
  const vgCopies = new Map<string, LvmVg>();

  for (const disk of disks) {
    const table = await readPartitionTable(disk.source);
    warnings.push(...table.problems.map((p) => `${disk.name}: ${p}`));
    const whole: Volume = { name: disk.name, kind: 'whole-disk', disk: disk.name, type: null, size: disk.source.size, offset: 0, extents: [{ disk: disk.name, offset: 0, length: disk.source.size }], readable: false };
    if (table.unreadable) {
      volumes.push({ ...whole, reason: table.problems[0] ?? 'damaged partition table' });
      continue;
    }
    const parts: Volume[] =
      table.scheme === 'none'
        ? [whole]
        : table.partitions
            .filter((p) => p.kind !== 'extended')
            .map((p) => {
              const size = Math.max(0, Math.min(p.size, disk.source.size - p.start));
              return {
                name: partitionName(disk.name, p.index),
                kind: 'partition' as const,
                disk: disk.name,
                partition: { index: p.index, kind: p.kind, typeId: p.typeId, name: p.name, bootable: p.bootable },
                type: null,
                size: p.size,
                offset: p.start,
                extents: [{ disk: disk.name, offset: p.start, length: size }],
                readable: false,
              };
            });
    for (const part of parts) {
      const source = sliceSource(disk.source, part.offset, part.extents[0]!.length);
      let volume = withProbe(part, await probeFilesystem(source));
      const noFs = part.partition && NO_FILESYSTEM[part.partition.kind];
      if (volume.type === 'unknown' && noFs) volume = { ...volume, reason: noFs };
      volumes.push(volume);
      if (volume.type !== 'LVM2_member') continue;
      const label = await readPvLabel(source);
      if (!label) {
        volume.reason = 'LVM physical volume with a damaged label';
        continue;
      }
      pvs.push({ volume, uuid: label.uuid });
      const { copies, problems } = await readMetadataAreas(source, label);
      warnings.push(...problems.map((p) => `${volume.name}: ${p}`));
      for (const { vg } of copies) {
        const known = vgCopies.get(vg.uuid);
        if (!known || known.seqno < vg.seqno) vgCopies.set(vg.uuid, vg);
      }
    }
  }

  const present = new Set(pvs.map((p) => p.uuid));
  for (const pv of pvs) {
    const vg = [...vgCopies.values()].find((g) => g.pvs.some((p) => p.uuid === pv.uuid));
    pv.volume.reason = vg
      ? `LVM physical volume of volume group ${vg.name} (its logical volumes are listed on their own)`
      : 'LVM physical volume whose volume group metadata is not on the disks of this backup';
  }
  const seenNames = new Set<string>();
  for (const vg of [...vgCopies.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (seenNames.has(vg.name)) warnings.push(`two volume groups are named ${vg.name}; their logical volumes have the same names`);
    seenNames.add(vg.name);
    // In lvs's order: by name.
    for (const lv of [...vg.lvs].sort((a, b) => a.name.localeCompare(b.name))) {
      // Hidden LVs are the parts of others (thin pool data, RAID images, snapshot stores).
      if (!lv.visible) continue;
      const map = mapLv(vg, lv, present);
      const base = { name: lvDeviceName(vg.name, lv.name), kind: 'logical-volume' as const, lvm: { vg: vg.name, lv: lv.name }, type: null, size: map.size };
      if (!map.readable) {
        const firstPv = pvs.find((p) => vg.pvs.some((v) => v.uuid === p.uuid));
        volumes.push({ ...base, disk: firstPv?.volume.disk ?? '', offset: 0, extents: [], readable: false, reason: map.reason });
        continue;
      }
      const extents = map.extents.map((e) => {
        const pv = pvs.find((p) => p.uuid === e.pvUuid)!.volume;
        return { disk: pv.disk, offset: pv.offset + e.pvOffset, length: e.length };
      });
      const volume: Volume = { ...base, disk: extents[0]!.disk, offset: extents[0]!.offset, extents, readable: false };
      volumes.push(withProbe(volume, await probeFilesystem(volumeSource(volume, disks))));
    }
  }
  return { volumes, warnings };
}
