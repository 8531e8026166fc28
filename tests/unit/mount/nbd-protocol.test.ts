import { describe, expect, it } from 'vitest';
import { backupReaderSource, runsIn } from '../../../node-service/mount/block-device.js';
import * as P from '../../../node-service/mount/nbd-protocol.js';
import type { BackupReader } from '../../../node-service/repository/index.js';

const GIB = 1024 ** 3;
const cookie = Buffer.from('0123456789abcdef', 'hex');

describe('NBD wire encoding', () => {
  it('greets with NBDMAGIC, IHAVEOPT and the fixed-newstyle + no-zeroes flags', () => {
    expect(P.serverGreeting().toString('hex')).toBe('4e42444d41474943' + '49484156454f5054' + '0003');
  });

  it('encodes option replies, export info and the EXPORT_NAME reply with or without zeroes', () => {
    const r = P.optionReply(P.Opt.GO, P.Rep.INFO, P.infoExport(5 * GIB + 1, 0x0103));
    expect(r.readBigUInt64BE(0)).toBe(P.OPT_REPLY_MAGIC);
    expect([r.readUInt32BE(8), r.readUInt32BE(12), r.readUInt32BE(16)]).toEqual([7, 3, 12]);
    expect([r.readUInt16BE(20), Number(r.readBigUInt64BE(22)), r.readUInt16BE(30)]).toEqual([0, 5 * GIB + 1, 0x0103]);
    expect(P.exportNameReply(1024, 3, true).length).toBe(10);
    expect(P.exportNameReply(1024, 3, false).length).toBe(134);
    expect(P.infoBlockSize().toString('hex')).toBe('0003' + '00000001' + '00001000' + '02000000');
  });

  it('encodes structured reply chunks with the cookie echoed', () => {
    const d = P.offsetDataHeader(cookie, 4096, 512, true);
    expect(d.length).toBe(28);
    expect([d.readUInt32BE(0), d.readUInt16BE(4), d.readUInt16BE(6), d.readUInt32BE(16), Number(d.readBigUInt64BE(20))]).toEqual([
      P.STRUCTURED_REPLY_MAGIC, 1, 1, 520, 4096,
    ]);
    expect(d.subarray(8, 16).equals(cookie)).toBe(true);
    const e = P.errorChunk(cookie, P.Errno.EPERM, 'read-only');
    expect([e.readUInt16BE(6), e.readUInt32BE(16), e.readUInt32BE(20), e.readUInt16BE(24), e.toString('utf8', 26)]).toEqual([0x8001, 15, 1, 9, 'read-only']);
    const s = P.blockStatusChunk(cookie, 1, [{ length: 4096, flags: 3 }, { length: 512, flags: 0 }]);
    expect([s.readUInt16BE(6), s.readUInt32BE(16), s.readUInt32BE(20), s.readUInt32BE(24), s.readUInt32BE(28), s.readUInt32BE(32)]).toEqual([5, 20, 1, 4096, 3, 512]);
    expect(P.offsetHoleChunk(cookie, 8, 16, true).readUInt32BE(28)).toBe(16);
  });

  it('parses requests and option data, refusing malformed option data', () => {
    const h = Buffer.alloc(28);
    h.writeUInt32BE(P.REQUEST_MAGIC, 0);
    h.writeUInt16BE(P.CmdFlag.FUA, 4);
    h.writeUInt16BE(P.Cmd.WRITE, 6);
    cookie.copy(h, 8);
    h.writeBigUInt64BE(3n * BigInt(GIB), 16);
    h.writeUInt32BE(65536, 24);
    expect(P.parseRequestHeader(h)).toEqual({ flags: 1, type: 1, cookie, offset: 3 * GIB, length: 65536 });
    h.writeUInt32BE(0xdeadbeef, 0);
    expect(P.parseRequestHeader(h)).toBeNull();

    const info = Buffer.from('00000003766461' + '0002' + '0001' + '0003', 'hex');
    expect(P.parseInfoRequest(info)).toEqual({ name: 'vda', requests: [1, 3] });
    expect(() => P.parseInfoRequest(info.subarray(0, 9))).toThrow(P.OptionSyntaxError);
    expect(() => P.parseInfoRequest(Buffer.concat([info, Buffer.alloc(1)]))).toThrow(P.OptionSyntaxError);
    const q = 'base:allocation';
    const meta = Buffer.concat([Buffer.from('00000000' + '00000001', 'hex'), Buffer.from([0, 0, 0, q.length]), Buffer.from(q)]);
    expect(P.parseMetaContextRequest(meta)).toEqual({ name: '', queries: [q] });
    expect(() => P.parseMetaContextRequest(meta.subarray(0, meta.length - 1))).toThrow(P.OptionSyntaxError);
  });
});

describe('block status descriptors', () => {
  const run = (offset: number, length: number, zero: boolean): P.DiskRun => ({ offset, length, zero });

  it('maps data to 0 and zero runs to hole|zero, merging equal neighbours', () => {
    const runs = [run(0, 4096, false), run(4096, 4096, false), run(8192, 8192, true), run(16384, 100, false)];
    expect(P.statusDescriptors(runs, 16484, false)).toEqual([
      { length: 8192, flags: 0 },
      { length: 8192, flags: 3 },
      { length: 100, flags: 0 },
    ]);
  });

  it('splits runs longer than 32 bits and stops once the request is covered', () => {
    const runs = [run(0, 10 * GIB, true), run(10 * GIB, GIB, false), run(11 * GIB, GIB, true)];
    const d = P.statusDescriptors(runs, 10 * GIB + 1, false);
    expect(d.map((x) => x.flags)).toEqual([3, 3, 3, 0]);
    expect(d.every((x) => x.length > 0 && x.length <= P.MAX_DESCRIPTOR_LENGTH)).toBe(true);
    const sum = d.reduce((n, x) => n + x.length, 0);
    // All but the last end before the request does; the last may reach beyond it.
    expect(sum - d[d.length - 1]!.length).toBeLessThan(10 * GIB + 1);
    expect(sum).toBe(11 * GIB);
  });

  it('with REQ_ONE gives one descriptor no longer than the request', () => {
    expect(P.statusDescriptors([run(0, GIB, true), run(GIB, 10, false)], 4096, true)).toEqual([{ length: 4096, flags: 3 }]);
  });

  it('caps the number of descriptors', () => {
    const runs = Array.from({ length: P.MAX_DESCRIPTORS + 10 }, (_, i) => run(i * 512, 512, i % 2 === 0));
    expect(P.statusDescriptors(runs, runs.length * 512, false)).toHaveLength(P.MAX_DESCRIPTORS);
  });
});

describe('runs of a backup disk', () => {
  it('come from the manifest: zero-chunk runs are zero, chunk ids data, clipped to the disk and to a range', () => {
    const chunkSize = 1024;
    const disk = { name: 'vda', size: 5 * 1024 + 300, chunkSize, chunks: ['a'.repeat(64), 'b'.repeat(64), 2, 'c'.repeat(64), 1] };
    const fake = { manifest: { disks: [disk] }, disk: () => disk, readRange: () => Promise.resolve(Buffer.alloc(0)) } as unknown as BackupReader;
    const src = backupReaderSource(fake);
    expect(src.disks).toEqual(['vda']);
    expect(src.runs('vda')).toEqual([
      { offset: 0, length: 2048, zero: false },
      { offset: 2048, length: 2048, zero: true },
      { offset: 4096, length: 1024, zero: false },
      { offset: 5120, length: 300, zero: true },
    ]);
    expect(runsIn(src.runs('vda'), 1000, 2000)).toEqual([
      { offset: 1000, length: 1048, zero: false },
      { offset: 2048, length: 952, zero: true },
    ]);
    expect(runsIn(src.runs('vda'), 5200, 100)).toEqual([{ offset: 5200, length: 100, zero: true }]);
  });
});
