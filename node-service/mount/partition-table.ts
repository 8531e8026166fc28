/**
 * Partition tables read in user space (no kernel partition scan): GPT with its protective or
 * hybrid MBR, and plain MBR with extended/logical partitions. Indexes follow Linux's names:
 * GPT slot N is partition N; MBR primaries are 1..4 and logical partitions 5, 6, … in the
 * order of the EBR chain. Damage is reported in `problems`, not thrown.
 */
import { readAt, type BlockSource } from './block-source.js';

export type PartitionKind =
  | 'linux-filesystem'
  | 'linux-lvm'
  | 'linux-swap'
  | 'linux-raid'
  | 'efi-system'
  | 'bios-boot'
  | 'microsoft-basic-data'
  | 'microsoft-reserved'
  | 'extended'
  | 'other';

export interface Partition {
  /** As Linux numbers it: vda<index>. */
  index: number;
  /** Byte offset on the disk. */
  start: number;
  /** Bytes. */
  size: number;
  kind: PartitionKind;
  /** The raw type: a GPT type GUID (upper case) or an MBR type byte ("0x83"). */
  typeId: string;
  /** GPT partition name (may be empty); empty for MBR. */
  name: string;
  /** MBR active flag, or GPT "legacy BIOS bootable" attribute. */
  bootable: boolean;
  /** GPT unique partition GUID. */
  uuid?: string;
  /** MBR only: a logical partition (inside the extended one). */
  logical?: boolean;
}

export interface PartitionTable {
  /** `none`: no partition table; the disk is one whole-disk volume. */
  scheme: 'gpt' | 'mbr' | 'none';
  sectorSize: number;
  partitions: Partition[];
  /** GPT disk GUID or the MBR disk signature ("0x1234abcd"). */
  diskId?: string;
  /** What was damaged or ignored, in words a user can act on. */
  problems: string[];
  /** True when nothing usable could be read although a table is there (both GPT headers bad). */
  unreadable?: boolean;
}

const GPT_KINDS: Record<string, PartitionKind> = {
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'linux-filesystem',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'linux-lvm',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': 'linux-swap',
  'A19D880F-05FC-4D3B-A006-743F0F84911E': 'linux-raid',
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'efi-system',
  '21686148-6449-6E6F-744E-656564454649': 'bios-boot',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'microsoft-basic-data',
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': 'microsoft-reserved',
};

const MBR_KINDS: Record<number, PartitionKind> = {
  0x83: 'linux-filesystem',
  0x8e: 'linux-lvm',
  0x82: 'linux-swap',
  0xfd: 'linux-raid',
  0xef: 'efi-system',
  0x05: 'extended',
  0x0f: 'extended',
  0x85: 'extended',
  0x01: 'microsoft-basic-data',
  0x04: 'microsoft-basic-data',
  0x06: 'microsoft-basic-data',
  0x07: 'microsoft-basic-data',
  0x0b: 'microsoft-basic-data',
  0x0c: 'microsoft-basic-data',
  0x0e: 'microsoft-basic-data',
};

const MAX_LOGICAL = 256;
const MAX_GPT_ENTRIES_BYTES = 4 * 1024 * 1024;

// --- CRC32 (IEEE, reflected), shared with the LVM reader, which seeds it differently.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** The raw CRC32 register update: no initial or final inversion. */
export function crc32Update(crc: number, data: Uint8Array): number {
  let c = crc >>> 0;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

export function crc32(data: Uint8Array): number {
  return (crc32Update(0xffffffff, data) ^ 0xffffffff) >>> 0;
}

/** A mixed-endian GUID as GPT stores it, in its usual upper-case text form. */
export function guidAt(buf: Buffer, at: number): string {
  const hex = (b: Buffer) => b.toString('hex');
  const le = (off: number, len: number) => hex(Buffer.from(buf.subarray(at + off, at + off + len)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(buf.subarray(at + 8, at + 10))}-${hex(buf.subarray(at + 10, at + 16))}`.toUpperCase();
}

/** Whether sector 0 is a filesystem's boot sector rather than an MBR (both end in 55 AA). */
function looksLikeBootSector(s: Buffer): boolean {
  const oem = s.toString('latin1', 3, 11);
  if (oem === 'NTFS    ' || oem === 'EXFAT   ' || oem === '-FVE-FS-') return true;
  const jump = s[0] === 0xeb || s[0] === 0xe9;
  const bps = s.readUInt16LE(11);
  const fatName = s.toString('latin1', 54, 57) === 'FAT' || s.toString('latin1', 82, 87) === 'FAT32';
  return jump && fatName && bps >= 512 && bps <= 4096 && (bps & (bps - 1)) === 0;
}

interface MbrEntry {
  slot: number;
  bootable: boolean;
  type: number;
  lbaStart: number;
  sectors: number;
}

function mbrEntries(sector: Buffer): MbrEntry[] | null {
  const out: MbrEntry[] = [];
  for (let slot = 0; slot < 4; slot++) {
    const at = 446 + slot * 16;
    const boot = sector[at]!;
    // Linux's own test: a boot flag other than 0x00/0x80 means this is no partition table.
    if (boot !== 0 && boot !== 0x80) return null;
    out.push({ slot, bootable: boot === 0x80, type: sector[at + 4]!, lbaStart: sector.readUInt32LE(at + 8), sectors: sector.readUInt32LE(at + 12) });
  }
  return out;
}

const hexType = (t: number) => `0x${t.toString(16).padStart(2, '0')}`;

/** Reads the partition table of a disk. Throws only when the disk itself cannot be read. */
export async function readPartitionTable(disk: BlockSource): Promise<PartitionTable> {
  const mbr = await readAt(disk, 0, 512);
  const hasSignature = mbr[510] === 0x55 && mbr[511] === 0xaa;
  const entries = hasSignature && !looksLikeBootSector(mbr) ? mbrEntries(mbr) : null;
  const protective = entries?.some((e) => e.type === 0xee) ?? false;

  if (protective || !hasSignature) {
    const gpt = await readGpt(disk, protective);
    if (gpt) {
      if (protective && entries!.some((e) => e.type !== 0xee && e.type !== 0)) {
        gpt.problems.push('hybrid MBR: the GPT is used and the MBR copies of the partitions are ignored');
      }
      return gpt;
    }
  }
  const used = entries?.filter((e) => e.type !== 0 && e.sectors > 0) ?? [];
  if (!entries || used.length === 0) return { scheme: 'none', sectorSize: 512, partitions: [], problems: [] };
  return readMbr(disk, mbr, used);
}

async function readMbr(disk: BlockSource, mbr: Buffer, used: MbrEntry[]): Promise<PartitionTable> {
  const problems: string[] = [];
  const partitions: Partition[] = [];
  let extended: MbrEntry | undefined;
  for (const e of used) {
    const kind = MBR_KINDS[e.type] ?? 'other';
    if (kind === 'extended') {
      if (extended) problems.push(`a second extended partition (slot ${e.slot + 1}) is ignored`);
      else extended = e;
    }
    partitions.push({ index: e.slot + 1, start: e.lbaStart * 512, size: e.sectors * 512, kind, typeId: hexType(e.type), name: '', bootable: e.bootable });
  }
  if (extended) partitions.push(...(await readLogical(disk, extended, problems)));
  for (const p of partitions) {
    if (p.start + p.size > disk.size) problems.push(`partition ${p.index} ends past the end of the disk`);
  }
  return { scheme: 'mbr', sectorSize: 512, partitions, diskId: `0x${mbr.readUInt32LE(440).toString(16).padStart(8, '0')}`, problems };
}

/** Follows the EBR chain: each EBR holds one logical partition and a link to the next EBR. */
async function readLogical(disk: BlockSource, ext: MbrEntry, problems: string[]): Promise<Partition[]> {
  const out: Partition[] = [];
  const seen = new Set<number>();
  const extEnd = ext.lbaStart + ext.sectors;
  let ebrLba = ext.lbaStart;
  let index = 5;
  while (out.length < MAX_LOGICAL) {
    if (seen.has(ebrLba)) {
      problems.push(`the extended partition's chain loops back to sector ${ebrLba}; logical partitions after partition ${index - 1} are not listed`);
      return out;
    }
    seen.add(ebrLba);
    const ebr = await readAt(disk, ebrLba * 512, 512);
    if (ebr[510] !== 0x55 || ebr[511] !== 0xaa) {
      problems.push(`the extended partition's boot record at sector ${ebrLba} is damaged; logical partitions from ${index} on are not listed`);
      return out;
    }
    const entries = mbrEntries(ebr);
    if (!entries) {
      problems.push(`the extended partition's boot record at sector ${ebrLba} is invalid; logical partitions from ${index} on are not listed`);
      return out;
    }
    const [data, link] = entries as [MbrEntry, MbrEntry];
    if (data.type !== 0 && data.sectors > 0) {
      const start = ebrLba + data.lbaStart;
      if (start + data.sectors > extEnd) problems.push(`logical partition ${index} reaches past its extended partition`);
      out.push({ index, start: start * 512, size: data.sectors * 512, kind: MBR_KINDS[data.type] ?? 'other', typeId: hexType(data.type), name: '', bootable: data.bootable, logical: true });
      index++;
    }
    if (link.type === 0 || link.sectors === 0 || MBR_KINDS[link.type] !== 'extended') return out;
    ebrLba = ext.lbaStart + link.lbaStart;
    if (ebrLba >= extEnd) {
      problems.push(`the extended partition's chain points outside it (sector ${ebrLba}); logical partitions from ${index} on are not listed`);
      return out;
    }
  }
  problems.push(`more than ${MAX_LOGICAL} logical partitions; the rest are not listed`);
  return out;
}

interface GptHeader {
  myLba: number;
  alternateLba: number;
  entriesLba: number;
  count: number;
  entrySize: number;
  entriesCrc: number;
  diskGuid: string;
}

function parseGptHeader(sector: Buffer): GptHeader | string {
  if (sector.toString('latin1', 0, 8) !== 'EFI PART') return 'no GPT signature';
  const headerSize = sector.readUInt32LE(12);
  if (headerSize < 92 || headerSize > sector.length) return `bad header size ${headerSize}`;
  const copy = Buffer.from(sector.subarray(0, headerSize));
  const stored = copy.readUInt32LE(16);
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== stored) return 'header checksum mismatch';
  const count = sector.readUInt32LE(80);
  const entrySize = sector.readUInt32LE(84);
  if (entrySize < 128 || entrySize % 8 !== 0 || count * entrySize > MAX_GPT_ENTRIES_BYTES) return `bad partition entry array (${count} × ${entrySize} bytes)`;
  return {
    myLba: Number(sector.readBigUInt64LE(24)),
    alternateLba: Number(sector.readBigUInt64LE(32)),
    entriesLba: Number(sector.readBigUInt64LE(72)),
    count,
    entrySize,
    entriesCrc: sector.readUInt32LE(88),
    diskGuid: guidAt(sector, 56),
  };
}

async function tryGptAt(disk: BlockSource, ss: number, lba: number): Promise<{ header: GptHeader; entries: Buffer } | string> {
  const header = parseGptHeader(await readAt(disk, lba * ss, ss));
  if (typeof header === 'string') return header;
  if (header.myLba !== lba) return `header says it is at sector ${header.myLba}, found at ${lba}`;
  const entries = await readAt(disk, header.entriesLba * ss, header.count * header.entrySize);
  if (crc32(entries) !== header.entriesCrc) return 'partition entry array checksum mismatch';
  return { header, entries };
}

/** Primary header at LBA 1, else the backup at the last LBA; 512-byte sectors, then 4096. */
async function readGpt(disk: BlockSource, protective: boolean): Promise<PartitionTable | null> {
  const failures: string[] = [];
  for (const ss of [512, 4096]) {
    const lastLba = Math.floor(disk.size / ss) - 1;
    const primary = await tryGptAt(disk, ss, 1);
    let found = typeof primary === 'string' ? null : primary;
    const problems: string[] = [];
    if (typeof primary === 'string' && primary !== 'no GPT signature') failures.push(`primary GPT (${ss}-byte sectors): ${primary}`);
    if (!found && lastLba > 1) {
      const backup = await tryGptAt(disk, ss, lastLba);
      if (typeof backup !== 'string') {
        found = backup;
        problems.push(`the primary GPT is damaged (${typeof primary === 'string' ? primary : ''}); the backup GPT at the end of the disk is used`);
      } else if (backup !== 'no GPT signature') failures.push(`backup GPT (${ss}-byte sectors): ${backup}`);
    }
    if (found) return { ...gptPartitions(found.header, found.entries, ss, disk.size, problems), problems };
  }
  if (!protective) return null;
  return {
    scheme: 'gpt',
    sectorSize: 512,
    partitions: [],
    problems: [`the disk has a protective MBR but no readable GPT: ${failures.join('; ') || 'no GPT header found'}`],
    unreadable: true,
  };
}

function gptPartitions(h: GptHeader, entries: Buffer, ss: number, diskSize: number, problems: string[]): PartitionTable {
  const partitions: Partition[] = [];
  for (let i = 0; i < h.count; i++) {
    const at = i * h.entrySize;
    const typeId = guidAt(entries, at);
    if (typeId === '00000000-0000-0000-0000-000000000000') continue;
    const first = Number(entries.readBigUInt64LE(at + 32));
    const last = Number(entries.readBigUInt64LE(at + 40));
    if (last < first) {
      problems.push(`partition ${i + 1} ends before it starts; it is ignored`);
      continue;
    }
    const nameRaw = entries.toString('utf16le', at + 56, at + 128);
    const zero = nameRaw.indexOf('\u0000');
    const attributes = entries.readBigUInt64LE(at + 48);
    const p: Partition = {
      index: i + 1,
      start: first * ss,
      size: (last - first + 1) * ss,
      kind: GPT_KINDS[typeId] ?? 'other',
      typeId,
      name: zero < 0 ? nameRaw : nameRaw.slice(0, zero),
      bootable: (attributes & 4n) !== 0n,
      uuid: guidAt(entries, at + 16),
    };
    if (p.start + p.size > diskSize) problems.push(`partition ${p.index} ends past the end of the disk`);
    partitions.push(p);
  }
  return { scheme: 'gpt', sectorSize: ss, partitions, diskId: h.diskGuid, problems };
}
