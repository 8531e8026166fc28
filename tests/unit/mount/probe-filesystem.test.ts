import { describe, expect, it } from 'vitest';
import type { BlockSource } from '../../../node-service/mount/block-source.js';
import { probeFilesystem } from '../../../node-service/mount/filesystem-probe.js';

const MiB = 1024 * 1024;
const UUID = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');

function mem(buf: Buffer): BlockSource {
  return { size: buf.length, read: async (into, offset) => (offset >= buf.length ? 0 : buf.copy(into, 0, offset, Math.min(buf.length, offset + into.length))) };
}
const probe = (buf: Buffer) => probeFilesystem(mem(buf));

function ext(features: { compat?: number; incompat?: number; roCompat?: number }, label = 'root'): Buffer {
  const b = Buffer.alloc(MiB);
  const sb = b.subarray(1024);
  sb.writeUInt16LE(0xef53, 0x38);
  sb.writeUInt32LE(features.compat ?? 0, 0x5c);
  sb.writeUInt32LE(features.incompat ?? 0, 0x60);
  sb.writeUInt32LE(features.roCompat ?? 0, 0x64);
  UUID.copy(sb, 0x68);
  sb.write(label, 0x78, 'utf8');
  return b;
}

describe('filesystem probe', () => {
  it('tells ext2, ext3 and ext4 apart by their features and sees a journal needing recovery', async () => {
    expect(await probe(ext({ incompat: 0x2, roCompat: 0x3 }))).toEqual({ type: 'ext2', readable: true, dirty: false, label: 'root', uuid: '01234567-89ab-cdef-0123-456789abcdef' });
    expect(await probe(ext({ compat: 0x4, incompat: 0x2 }))).toMatchObject({ type: 'ext3', dirty: false });
    expect(await probe(ext({ compat: 0x4, incompat: 0x2 | 0x4 }))).toMatchObject({ type: 'ext3', dirty: true });
    expect(await probe(ext({ compat: 0x4, incompat: 0x2 | 0x40 | 0x200 }))).toMatchObject({ type: 'ext4', dirty: false });
    expect(await probe(ext({ compat: 0x4, incompat: 0x2, roCompat: 0x400 }))).toMatchObject({ type: 'ext4' });
    expect(await probe(ext({ incompat: 0x8 }))).toMatchObject({ readable: false, reason: 'an ext3/4 external journal (no files)' });
  });

  it('lists what cannot be mounted with the reason: LUKS, BitLocker, swap, RAID members, multi-device btrfs', async () => {
    const luks = Buffer.alloc(MiB);
    Buffer.from('LUKS\xba\xbe', 'latin1').copy(luks);
    luks.writeUInt16BE(2, 6);
    luks.write('secret-disk', 24);
    luks.write('9a5b2c7e-0000-4000-8000-000000000001', 168, 'latin1');
    expect(await probe(luks)).toEqual({ type: 'crypto_LUKS', readable: false, reason: 'encrypted (LUKS)', version: 'LUKS2', label: 'secret-disk', uuid: '9a5b2c7e-0000-4000-8000-000000000001' });

    const bitlocker = Buffer.alloc(MiB);
    bitlocker.write('-FVE-FS-', 3, 'latin1');
    expect(await probe(bitlocker)).toMatchObject({ type: 'BitLocker', readable: false, reason: 'encrypted (BitLocker)' });

    const swap = Buffer.alloc(MiB);
    swap.write('SWAPSPACE2', 4096 - 10, 'latin1');
    UUID.copy(swap, 1024 + 12);
    swap.write('swp', 1024 + 28);
    expect(await probe(swap)).toEqual({ type: 'swap', readable: false, reason: 'swap space (no files)', label: 'swp', uuid: '01234567-89ab-cdef-0123-456789abcdef' });

    const md = Buffer.alloc(MiB);
    md.writeUInt32LE(0xa92b4efc, 4096);
    md.writeUInt32LE(1, 4100);
    expect(await probe(md)).toMatchObject({ type: 'linux_raid_member', readable: false, reason: 'not supported (Linux software RAID member)' });

    const btrfs = Buffer.alloc(MiB);
    btrfs.write('_BHRfS_M', 0x10040, 'latin1');
    btrfs.write('pool', 0x1012b);
    btrfs.writeBigUInt64LE(1n, 0x10088);
    expect(await probe(btrfs)).toMatchObject({ type: 'btrfs', readable: true, label: 'pool' });
    btrfs.writeBigUInt64LE(2n, 0x10088);
    expect(await probe(btrfs)).toMatchObject({ type: 'btrfs', readable: false, reason: 'not supported (btrfs over 2 devices)' });
  });

  it('reads the XFS label and UUID', async () => {
    const b = Buffer.alloc(MiB);
    b.write('XFSB', 0, 'latin1');
    UUID.copy(b, 32);
    b.write('xdata', 108);
    expect(await probe(b)).toEqual({ type: 'xfs', readable: true, label: 'xdata', uuid: '01234567-89ab-cdef-0123-456789abcdef' });
  });

  it('reads FAT12 from its cluster count, and "NO NAME" is no label', async () => {
    const b = Buffer.alloc(MiB);
    b[0] = 0xeb;
    b.writeUInt16LE(512, 11);
    b[13] = 4;
    b.writeUInt16LE(1, 14);
    b[16] = 2;
    b.writeUInt16LE(512, 17);
    b.writeUInt16LE(2048, 19);
    b[21] = 0xf8;
    b.writeUInt16LE(2, 22);
    b[0x26] = 0x29;
    b.writeUInt32LE(0xdeadbeef, 0x27);
    b.write('NO NAME    ', 0x2b, 'latin1');
    b[510] = 0x55;
    b[511] = 0xaa;
    expect(await probe(b)).toEqual({ type: 'vfat', readable: true, version: 'FAT12', uuid: 'DEAD-BEEF' });
    b.write('STICK      ', 0x2b, 'latin1');
    expect(await probe(b)).toMatchObject({ label: 'STICK' });
  });

  it('reads the exFAT label from the root directory', async () => {
    const b = Buffer.alloc(MiB);
    b.write('EXFAT   ', 3, 'latin1');
    b.writeUInt32LE(64, 88); // cluster heap at sector 64
    b.writeUInt32LE(4, 96); // root directory in cluster 4
    b.writeUInt32LE(0x1234abcd, 100);
    b[108] = 9;
    b[109] = 3; // 4 KiB clusters
    const root = 64 * 512 + 2 * 4096;
    b[root] = 0x81; // allocation bitmap entry, skipped
    b[root + 32] = 0x83;
    b[root + 33] = 5;
    b.write('Photo', root + 34, 'utf16le');
    expect(await probe(b)).toEqual({ type: 'exfat', readable: true, uuid: '1234-ABCD', label: 'Photo' });
  });

  it('says whether an unknown volume is empty or holds something it does not know', async () => {
    expect(await probe(Buffer.alloc(MiB))).toEqual({ type: 'unknown', readable: false, reason: 'empty (no filesystem found)' });
    const b = Buffer.alloc(MiB);
    b.write('something else', 100);
    expect(await probe(b)).toEqual({ type: 'unknown', readable: false, reason: 'unknown filesystem' });
    expect(await probe(Buffer.alloc(4096))).toMatchObject({ type: 'unknown' });
  });
});
