/** Shared helpers for the mount tests. */
import type { BackupDataSource } from '../../../node-service/mount/block-device.js';

/** A backup source over a buffer: 4 KiB blocks of zeros are zero runs. */
export function memoryBackup(img: Buffer, name = 'vda'): BackupDataSource {
  const runs: { offset: number; length: number; zero: boolean }[] = [];
  for (let o = 0; o < img.length; o += 4096) {
    const end = Math.min(img.length, o + 4096);
    const zero = img.subarray(o, end).every((b) => b === 0);
    const last = runs[runs.length - 1];
    if (last && last.zero === zero) last.length += end - o;
    else runs.push({ offset: o, length: end - o, zero });
  }
  return {
    disks: [name],
    diskSize: () => img.length,
    readRange: async (_d, offset, length) => Buffer.from(img.subarray(offset, Math.min(img.length, offset + length))),
    runs: () => runs,
  };
}
