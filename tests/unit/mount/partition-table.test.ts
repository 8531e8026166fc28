import { describe, expect, it } from 'vitest';
import type { BlockSource } from '../../../node-service/mount/block-source.js';
import { partitionName, lvDeviceName } from '../../../node-service/mount/disk-layout.js';
import { crc32, readPartitionTable } from '../../../node-service/mount/partition-table.js';

const MiB = 1024 * 1024;

const flip = (buf: Buffer, at: number) => buf.writeUInt8(buf.readUInt8(at) ^ 1, at);

function mem(buf: Buffer): BlockSource {
  return { size: buf.length, read: async (into, offset) => (offset >= buf.length ? 0 : buf.copy(into, 0, offset, Math.min(buf.length, offset + into.length))) };
}

function mbrEntry(buf: Buffer, sectorAt: number, slot: number, e: { boot?: number; type: number; lba: number; sectors: number }): void {
  const at = sectorAt + 446 + slot * 16;
  buf[at] = e.boot ?? 0;
  buf[at + 4] = e.type;
  buf.writeUInt32LE(e.lba, at + 8);
  buf.writeUInt32LE(e.sectors, at + 12);
  buf[sectorAt + 510] = 0x55;
  buf[sectorAt + 511] = 0xaa;
}

/** GUID text to GPT's mixed-endian bytes. */
function guidBytes(guid: string): Buffer {
  const h = guid.replace(/-/g, '');
  const le = (s: string) => Buffer.from(s, 'hex').reverse();
  return Buffer.concat([le(h.slice(0, 8)), le(h.slice(8, 12)), le(h.slice(12, 16)), Buffer.from(h.slice(16), 'hex')]);
}

interface GptPart {
  type: string;
  first: number;
  last: number;
  name?: string;
  attributes?: bigint;
}

/** A GPT disk as sgdisk would write it: protective MBR, primary and backup headers and arrays. */
function gptDisk(ss: number, sectors: number, parts: GptPart[], opts: { hybrid?: boolean } = {}): Buffer {
  const disk = Buffer.alloc(ss * sectors);
  mbrEntry(disk, 0, 0, { type: 0xee, lba: 1, sectors: sectors - 1 });
  if (opts.hybrid) mbrEntry(disk, 0, 1, { type: 0x83, lba: parts[0]!.first, sectors: parts[0]!.last - parts[0]!.first + 1 });
  const count = 128;
  const entries = Buffer.alloc(count * 128);
  parts.forEach((p, i) => {
    guidBytes(p.type).copy(entries, i * 128);
    guidBytes(`00000000-0000-0000-0000-00000000000${i + 1}`).copy(entries, i * 128 + 16);
    entries.writeBigUInt64LE(BigInt(p.first), i * 128 + 32);
    entries.writeBigUInt64LE(BigInt(p.last), i * 128 + 40);
    entries.writeBigUInt64LE(p.attributes ?? 0n, i * 128 + 48);
    entries.write(p.name ?? '', i * 128 + 56, 72, 'utf16le');
  });
  const entrySectors = Math.ceil(entries.length / ss);
  const header = (my: number, alt: number, entriesLba: number) => {
    const h = Buffer.alloc(ss);
    h.write('EFI PART', 0, 'latin1');
    h.writeUInt32LE(0x10000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(my), 24);
    h.writeBigUInt64LE(BigInt(alt), 32);
    h.writeBigUInt64LE(BigInt(2 + entrySectors), 40);
    h.writeBigUInt64LE(BigInt(sectors - 2 - entrySectors), 48);
    guidBytes('11111111-2222-3333-4444-555555555555').copy(h, 56);
    h.writeBigUInt64LE(BigInt(entriesLba), 72);
    h.writeUInt32LE(count, 80);
    h.writeUInt32LE(128, 84);
    h.writeUInt32LE(crc32(entries), 88);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
    return h;
  };
  header(1, sectors - 1, 2).copy(disk, ss);
  entries.copy(disk, 2 * ss);
  entries.copy(disk, (sectors - 1 - entrySectors) * ss);
  header(sectors - 1, 1, sectors - 1 - entrySectors).copy(disk, (sectors - 1) * ss);
  return disk;
}

const LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const LVM = 'E6D6D379-F507-44C2-A23C-238F2A3DF928';
const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const gptParts: GptPart[] = [
  { type: ESP, first: 2048, last: 4095, name: 'EFI System', attributes: 4n },
  { type: LVM, first: 4096, last: 8191, name: 'Données ✓' },
  { type: '01234567-89AB-CDEF-0123-456789ABCDEF', first: 8192, last: 9000 },
];

describe('partition tables', () => {
  it('computes the IEEE CRC32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('reads a GPT: indexes by slot, bytes, kinds, UTF-16 names, the bootable attribute', async () => {
    const t = await readPartitionTable(mem(gptDisk(512, 16384, gptParts)));
    expect(t).toMatchObject({ scheme: 'gpt', sectorSize: 512, diskId: '11111111-2222-3333-4444-555555555555', problems: [] });
    expect(t.partitions.map((p) => [p.index, p.start, p.size, p.kind, p.name, p.bootable])).toEqual([
      [1, 2048 * 512, 2048 * 512, 'efi-system', 'EFI System', true],
      [2, 4096 * 512, 4096 * 512, 'linux-lvm', 'Données ✓', false],
      [3, 8192 * 512, 809 * 512, 'other', '', false],
    ]);
    expect(t.partitions[0]!.uuid).toBe('00000000-0000-0000-0000-000000000001');
  });

  it('finds a GPT on 4096-byte sectors', async () => {
    const t = await readPartitionTable(mem(gptDisk(4096, 2048, [{ type: LINUX, first: 256, last: 1023 }])));
    expect(t.sectorSize).toBe(4096);
    expect(t.partitions.map((p) => [p.start, p.size])).toEqual([[256 * 4096, 768 * 4096]]);
  });

  it('uses the backup GPT when the primary header or its entry array fails its checksum', async () => {
    const badHeader = gptDisk(512, 16384, gptParts);
    flip(badHeader, 512 + 40);
    const badEntries = gptDisk(512, 16384, gptParts);
    flip(badEntries, 2 * 512 + 60);
    for (const disk of [badHeader, badEntries]) {
      const t = await readPartitionTable(mem(disk));
      expect(t.partitions.map((p) => p.name)).toEqual(['EFI System', 'Données ✓', '']);
      expect(t.problems).toEqual([expect.stringMatching(/primary GPT is damaged \((header|partition entry array) checksum mismatch\); the backup GPT/)]);
    }
  });

  it('says so when a protective MBR has no readable GPT behind it', async () => {
    const disk = gptDisk(512, 16384, gptParts);
    flip(disk, 512 + 40);
    flip(disk, (16384 - 1) * 512 + 40);
    const t = await readPartitionTable(mem(disk));
    expect(t).toMatchObject({ scheme: 'gpt', unreadable: true, partitions: [] });
    expect(t.problems[0]).toMatch(/protective MBR but no readable GPT: primary GPT .*header checksum mismatch; backup GPT/);
  });

  it('uses the GPT of a hybrid MBR and says the MBR copies are ignored', async () => {
    const t = await readPartitionTable(mem(gptDisk(512, 16384, gptParts, { hybrid: true })));
    expect(t.partitions).toHaveLength(3);
    expect(t.problems).toEqual([expect.stringContaining('hybrid MBR')]);
  });

  it('reads an MBR with logical partitions, numbered 5.. in chain order', async () => {
    const disk = Buffer.alloc(16 * MiB);
    mbrEntry(disk, 0, 0, { boot: 0x80, type: 0x83, lba: 2048, sectors: 2048 });
    mbrEntry(disk, 0, 1, { type: 0x0f, lba: 8192, sectors: 16384 });
    mbrEntry(disk, 8192 * 512, 0, { type: 0x07, lba: 2048, sectors: 1000 });
    mbrEntry(disk, 8192 * 512, 1, { type: 0x05, lba: 4096, sectors: 3000 });
    mbrEntry(disk, 12288 * 512, 0, { type: 0x8e, lba: 2048, sectors: 500 });
    const t = await readPartitionTable(mem(disk));
    expect(t.problems).toEqual([]);
    expect(t.partitions.map((p) => [p.index, p.start / 512, p.size / 512, p.kind, p.bootable, p.logical ?? false])).toEqual([
      [1, 2048, 2048, 'linux-filesystem', true, false],
      [2, 8192, 16384, 'extended', false, false],
      [5, 10240, 1000, 'microsoft-basic-data', false, true],
      [6, 14336, 500, 'linux-lvm', false, true],
    ]);
  });

  it('refuses an EBR chain that loops, keeping what came before', async () => {
    const disk = Buffer.alloc(16 * MiB);
    mbrEntry(disk, 0, 1, { type: 0x05, lba: 8192, sectors: 16384 });
    mbrEntry(disk, 8192 * 512, 0, { type: 0x83, lba: 2048, sectors: 1000 });
    mbrEntry(disk, 8192 * 512, 1, { type: 0x05, lba: 4096, sectors: 3000 });
    mbrEntry(disk, 12288 * 512, 0, { type: 0x83, lba: 2048, sectors: 500 });
    mbrEntry(disk, 12288 * 512, 1, { type: 0x05, lba: 0, sectors: 3000 });
    const t = await readPartitionTable(mem(disk));
    expect(t.partitions.map((p) => p.index)).toEqual([2, 5, 6]);
    expect(t.problems).toEqual([expect.stringContaining('loops back to sector 8192')]);
  });

  it('sees no table on an empty disk, a bad boot flag, or a FAT/NTFS boot sector at sector 0', async () => {
    expect((await readPartitionTable(mem(Buffer.alloc(MiB)))).scheme).toBe('none');
    const badFlag = Buffer.alloc(MiB);
    mbrEntry(badFlag, 0, 0, { boot: 0x12, type: 0x83, lba: 2048, sectors: 100 });
    expect((await readPartitionTable(mem(badFlag))).scheme).toBe('none');
    const fat = Buffer.alloc(MiB);
    mbrEntry(fat, 0, 0, { type: 0x83, lba: 2048, sectors: 100 });
    fat[0] = 0xeb;
    fat.writeUInt16LE(512, 11);
    fat.write('FAT16   ', 54, 'latin1');
    expect((await readPartitionTable(mem(fat))).scheme).toBe('none');
    const ntfs = Buffer.alloc(MiB);
    mbrEntry(ntfs, 0, 0, { type: 0x83, lba: 2048, sectors: 100 });
    ntfs.write('NTFS    ', 3, 'latin1');
    expect((await readPartitionTable(mem(ntfs))).scheme).toBe('none');
  });

  it('flags partitions that run past the end of the disk', async () => {
    const disk = Buffer.alloc(MiB);
    mbrEntry(disk, 0, 0, { type: 0x83, lba: 2048, sectors: 4096 });
    expect((await readPartitionTable(mem(disk))).problems).toEqual(['partition 1 ends past the end of the disk']);
  });

  it('names partitions and LVs as Linux does', () => {
    expect(partitionName('vda', 5)).toBe('vda5');
    expect(partitionName('nvme0n1', 2)).toBe('nvme0n1p2');
    expect(lvDeviceName('my-vg', 'lv-root')).toBe('my--vg-lv--root');
  });
});
