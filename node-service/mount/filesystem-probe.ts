/**
 * What is on a volume, from its superblock alone (as blkid does, in user space): the
 * filesystem type, label, UUID and whether its journal needs replaying; or why it cannot be
 * mounted (encrypted, swap, an LVM PV to look inside, unknown).
 */
import { readAt, type BlockSource } from './block-source.js';

export type FsType =
  | 'ext2'
  | 'ext3'
  | 'ext4'
  | 'xfs'
  | 'btrfs'
  | 'ntfs'
  | 'vfat'
  | 'exfat'
  | 'swap'
  | 'LVM2_member'
  | 'linux_raid_member'
  | 'crypto_LUKS'
  | 'BitLocker'
  | 'unknown';

export interface ProbeResult {
  type: FsType;
  /** Whether a later step can mount it read-only. */
  readable: boolean;
  /** Why not, when not. */
  reason?: string;
  label?: string;
  uuid?: string;
  /** Variant detail: "FAT32", "LUKS2". */
  version?: string;
  /** The journal/log needs replaying (ext needs_recovery, NTFS dirty flag). */
  dirty?: boolean;
}

/** One read covers every superblock below (btrfs's is at 64 KiB). */
const HEAD = 0x10000 + 0x1000;

const hex = (b: Buffer) => b.toString('hex');
const uuidText = (b: Buffer) => `${hex(b.subarray(0, 4))}-${hex(b.subarray(4, 6))}-${hex(b.subarray(6, 8))}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
const cString = (b: Buffer, enc: BufferEncoding = 'utf8') => {
  const end = b.indexOf(0);
  return b.toString(enc, 0, end < 0 ? b.length : end);
};
const latin = (b: Buffer, from: number, to: number) => b.toString('latin1', from, to);
const optional = (s: string) => (s.trim() === '' ? {} : { label: s.trim() });

/** Identifies what a volume holds. Throws only when it cannot be read. */
export async function probeFilesystem(volume: BlockSource): Promise<ProbeResult> {
  const b = await readAt(volume, 0, Math.min(HEAD, volume.size));
  const head = b.length < HEAD ? Buffer.concat([b, Buffer.alloc(HEAD - b.length)]) : b;
  return (
    luks(head) ??
    lvm(head) ??
    mdRaid(head) ??
    xfs(head) ??
    btrfs(head) ??
    ext(head) ??
    (await ntfs(volume, head)) ??
    (await exfat(volume, head)) ??
    bitlocker(head) ??
    fat(head) ??
    swap(head) ?? { type: 'unknown', readable: false, reason: head.subarray(0, HEAD).every((x) => x === 0) ? 'empty (no filesystem found)' : 'unknown filesystem' }
  );
}

function luks(h: Buffer): ProbeResult | null {
  if (latin(h, 0, 6) !== 'LUKS\u00ba\u00be') return null;
  const version = h.readUInt16BE(6);
  const label = version === 2 ? cString(h.subarray(24, 72)) : '';
  return { type: 'crypto_LUKS', readable: false, reason: 'encrypted (LUKS)', version: `LUKS${version}`, uuid: cString(h.subarray(168, 208), 'latin1'), ...optional(label) };
}

function lvm(h: Buffer): ProbeResult | null {
  for (let s = 0; s < 4; s++) {
    if (latin(h, s * 512, s * 512 + 8) === 'LABELONE' && latin(h, s * 512 + 24, s * 512 + 32) === 'LVM2 001') {
      const at = s * 512 + h.readUInt32LE(s * 512 + 20);
      // Shown as LVM shows it: 6-4-4-4-4-4-6.
      const raw = latin(h, at, at + 32);
      const uuid = [0, 6, 10, 14, 18, 22, 26].map((from, i, all) => raw.slice(from, all[i + 1] ?? 32)).join('-');
      return { type: 'LVM2_member', readable: false, reason: 'LVM physical volume', uuid };
    }
  }
  return null;
}

function mdRaid(h: Buffer): ProbeResult | null {
  // md superblock 1.1 at 0, 1.2 at 4 KiB (0.90/1.0 sit at the end and are not looked for).
  for (const at of [0, 4096]) {
    if (h.readUInt32LE(at) === 0xa92b4efc && h.readUInt32LE(at + 4) === 1) {
      return { type: 'linux_raid_member', readable: false, reason: 'not supported (Linux software RAID member)', uuid: uuidText(h.subarray(at + 16, at + 32)) };
    }
  }
  return null;
}

function xfs(h: Buffer): ProbeResult | null {
  if (latin(h, 0, 4) !== 'XFSB') return null;
  return { type: 'xfs', readable: true, uuid: uuidText(h.subarray(32, 48)), ...optional(cString(h.subarray(108, 120))) };
}

function btrfs(h: Buffer): ProbeResult | null {
  const sb = h.subarray(0x10000);
  if (latin(sb, 0x40, 0x48) !== '_BHRfS_M') return null;
  const devices = Number(sb.readBigUInt64LE(0x88));
  const base = { type: 'btrfs' as const, uuid: uuidText(sb.subarray(0x20, 0x30)), ...optional(cString(sb.subarray(0x12b, 0x22b))) };
  if (devices > 1) return { ...base, readable: false, reason: `not supported (btrfs over ${devices} devices)` };
  return { ...base, readable: true };
}

const EXT_COMPAT_JOURNAL = 0x4;
const EXT_INCOMPAT_RECOVER = 0x4;
const EXT_INCOMPAT_JOURNAL_DEV = 0x8;
// What ext3 knows; any other feature makes it ext4 (blkid's rule).
const EXT3_INCOMPAT = 0x2 | 0x4 | 0x10;
const EXT3_RO_COMPAT = 0x1 | 0x2 | 0x4;

function ext(h: Buffer): ProbeResult | null {
  const sb = h.subarray(1024, 2048);
  if (sb.readUInt16LE(0x38) !== 0xef53) return null;
  const compat = sb.readUInt32LE(0x5c);
  const incompat = sb.readUInt32LE(0x60);
  const roCompat = sb.readUInt32LE(0x64);
  const base = { uuid: uuidText(sb.subarray(0x68, 0x78)), ...optional(cString(sb.subarray(0x78, 0x88))) };
  if (incompat & EXT_INCOMPAT_JOURNAL_DEV) return { ...base, type: 'unknown', readable: false, reason: 'an ext3/4 external journal (no files)', version: 'jbd' };
  const type = incompat & ~EXT3_INCOMPAT || roCompat & ~EXT3_RO_COMPAT ? 'ext4' : compat & EXT_COMPAT_JOURNAL ? 'ext3' : 'ext2';
  return { ...base, type, readable: true, dirty: (incompat & EXT_INCOMPAT_RECOVER) !== 0 };
}

async function ntfs(volume: BlockSource, h: Buffer): Promise<ProbeResult | null> {
  if (latin(h, 3, 11) !== 'NTFS    ') return null;
  const result: ProbeResult = { type: 'ntfs', readable: true, uuid: Buffer.from(h.subarray(0x48, 0x50)).reverse().toString('hex').toUpperCase() };
  // Label and dirty flag live in the $Volume file (MFT record 3).
  const sectorSize = h.readUInt16LE(0x0b);
  const clusterSize = sectorSize * h[0x0d]!;
  const raw = h.readInt8(0x40);
  const recordSize = raw < 0 ? 2 ** -raw : raw * clusterSize;
  const mft = Number(h.readBigUInt64LE(0x30)) * clusterSize;
  if (!clusterSize || recordSize < 512 || recordSize > 65536 || mft + 4 * recordSize > volume.size) return result;
  const rec = await readAt(volume, mft + 3 * recordSize, recordSize);
  if (latin(rec, 0, 4) !== 'FILE' || !applyFixups(rec, sectorSize)) return result;
  for (let at = rec.readUInt16LE(0x14); at + 24 <= rec.length; ) {
    const type = rec.readUInt32LE(at);
    const len = rec.readUInt32LE(at + 4);
    if (type === 0xffffffff || len < 24 || at + len > rec.length) break;
    if (rec[at + 8] === 0) {
      const valueLen = rec.readUInt32LE(at + 0x10);
      const value = rec.subarray(at + rec.readUInt16LE(at + 0x14), at + rec.readUInt16LE(at + 0x14) + valueLen);
      if (type === 0x60) Object.assign(result, optional(value.toString('utf16le')));
      if (type === 0x70 && value.length >= 12) result.dirty = (value.readUInt16LE(10) & 1) !== 0;
    }
    at += len;
  }
  return result;
}

/** NTFS update sequence: the last two bytes of each sector were swapped out on write. */
function applyFixups(rec: Buffer, sectorSize: number): boolean {
  const at = rec.readUInt16LE(4);
  const count = rec.readUInt16LE(6);
  if (at + count * 2 > rec.length || sectorSize < 256) return false;
  const usn = rec.readUInt16LE(at);
  for (let i = 1; i < count; i++) {
    const end = i * sectorSize - 2;
    if (end + 2 > rec.length || rec.readUInt16LE(end) !== usn) return false;
    rec.writeUInt16LE(rec.readUInt16LE(at + i * 2), end);
  }
  return true;
}

async function exfat(volume: BlockSource, h: Buffer): Promise<ProbeResult | null> {
  if (latin(h, 3, 11) !== 'EXFAT   ') return null;
  const serial = h.readUInt32LE(100).toString(16).toUpperCase().padStart(8, '0');
  const result: ProbeResult = { type: 'exfat', readable: true, uuid: `${serial.slice(0, 4)}-${serial.slice(4)}` };
  const sectorShift = h[108]!;
  const clusterShift = h[109]!;
  if (sectorShift < 9 || sectorShift > 12 || clusterShift > 25 - sectorShift) return result;
  const heap = h.readUInt32LE(88) * 2 ** sectorShift;
  const rootCluster = h.readUInt32LE(96);
  const clusterSize = 2 ** (sectorShift + clusterShift);
  // The label is an entry (0x83) of the root directory; its first cluster is enough.
  const root = await readAt(volume, heap + (rootCluster - 2) * clusterSize, Math.min(clusterSize, 65536));
  for (let at = 0; at + 32 <= root.length && root[at] !== 0; at += 32) {
    if (root[at] === 0x83) {
      const chars = Math.min(root[at + 1]!, 11);
      Object.assign(result, optional(root.toString('utf16le', at + 2, at + 2 + chars * 2)));
      break;
    }
  }
  return result;
}

function bitlocker(h: Buffer): ProbeResult | null {
  if (latin(h, 3, 11) !== '-FVE-FS-') return null;
  return { type: 'BitLocker', readable: false, reason: 'encrypted (BitLocker)' };
}

function fat(h: Buffer): ProbeResult | null {
  const bps = h.readUInt16LE(11);
  const spc = h[13]!;
  const reserved = h.readUInt16LE(14);
  const fats = h[16]!;
  const media = h[21]!;
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (!(h[0] === 0xeb || h[0] === 0xe9) || h[510] !== 0x55 || h[511] !== 0xaa) return null;
  if (bps < 512 || bps > 4096 || !pow2(bps) || !pow2(spc) || reserved === 0 || fats === 0 || (media < 0xf8 && media !== 0xf0)) return null;
  const fat16Length = h.readUInt16LE(22);
  const fat32 = fat16Length === 0;
  const rootEntries = h.readUInt16LE(17);
  const sectors = h.readUInt16LE(19) || h.readUInt32LE(32);
  const fatLength = fat32 ? h.readUInt32LE(36) : fat16Length;
  const rootSectors = Math.ceil((rootEntries * 32) / bps);
  const clusters = Math.floor((sectors - reserved - fats * fatLength - rootSectors) / spc);
  const version = fat32 ? 'FAT32' : clusters < 4085 ? 'FAT12' : 'FAT16';
  const ebpb = fat32 ? 0x40 : 0x24;
  if (h[ebpb + 2] !== 0x29) return { type: 'vfat', readable: true, version };
  const serial = h.readUInt32LE(ebpb + 3).toString(16).toUpperCase().padStart(8, '0');
  const label = latin(h, ebpb + 7, ebpb + 18);
  return { type: 'vfat', readable: true, version, uuid: `${serial.slice(0, 4)}-${serial.slice(4)}`, ...(label.trim() === 'NO NAME' ? {} : optional(label)) };
}

function swap(h: Buffer): ProbeResult | null {
  for (const page of [4096, 8192, 16384, 65536]) {
    if (page > h.length) break;
    const magic = latin(h, page - 10, page);
    if (magic === 'SWAPSPACE2' || magic === 'SWAP-SPACE') {
      return { type: 'swap', readable: false, reason: 'swap space (no files)', uuid: uuidText(h.subarray(1024 + 12, 1024 + 28)), ...optional(cString(h.subarray(1024 + 28, 1024 + 44))) };
    }
  }
  return null;
}
