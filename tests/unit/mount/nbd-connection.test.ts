/** The handshake and transmission phase byte by byte, against an in-process server on a unix socket. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReadOnlyDisk, type BlockDevice } from '../../../node-service/mount/block-device.js';
import { CowOverlay } from '../../../node-service/mount/cow-overlay.js';
import * as P from '../../../node-service/mount/nbd-protocol.js';
import { NbdServer, NbdServerError, type NbdExport } from '../../../node-service/mount/nbd-server.js';
import { Prng, TempDirs } from '../repository/helpers.js';
import { memoryBackup } from './nbd-test-helpers.js';
import { RawNbdClient, infoRequest, metaRequest } from './raw-nbd-client.js';

const dirs = new TempDirs();
const servers: NbdServer[] = [];
const clients: RawNbdClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await dirs.cleanup();
});

const IMG = Buffer.alloc(256 * 1024);
new Prng(3).fill(IMG.subarray(0, 64 * 1024));
new Prng(4).fill(IMG.subarray(192 * 1024));

async function start(exports: NbdExport[], maxInFlightPerClient = 16): Promise<{ server: NbdServer; socket: string }> {
  const socket = path.join(await dirs.make('vplus-nbd-unit-'), 's.sock');
  const server = new NbdServer({ exports, maxInFlightPerClient });
  servers.push(server);
  await server.listen(socket);
  return { server, socket };
}

const readOnly = (): NbdExport => ({ name: 'vda', description: 'test disk', device: new ReadOnlyDisk(memoryBackup(IMG), 'vda') });

async function connect(socket: string): Promise<RawNbdClient> {
  const c = await RawNbdClient.connect(socket);
  clients.push(c);
  await c.greet();
  return c;
}

/** Structured replies, base:allocation and GO on `name`; returns the transmission flags. */
async function negotiate(c: RawNbdClient, name = 'vda', meta = true): Promise<number> {
  c.sendOption(P.Opt.STRUCTURED_REPLY);
  expect((await c.optionReply()).type).toBe(P.Rep.ACK);
  if (meta) {
    c.sendOption(P.Opt.SET_META_CONTEXT, metaRequest(name, ['base:allocation', 'qemu:dirty-bitmap:x']));
    const r = await c.optionReplies();
    expect(r.map((x) => x.type)).toEqual([P.Rep.META_CONTEXT, P.Rep.ACK]);
  }
  c.sendOption(P.Opt.GO, infoRequest(name, [P.Info.BLOCK_SIZE]));
  const replies = await c.optionReplies();
  expect(replies[replies.length - 1]!.type).toBe(P.Rep.ACK);
  const exp = replies.find((r) => r.data.length === 12 && r.data.readUInt16BE(0) === P.Info.EXPORT)!;
  return exp.data.readUInt16BE(10);
}

describe('NBD handshake', () => {
  it('lists exports, describes them, and refuses unknown ones and misplaced options', async () => {
    const { socket } = await start([readOnly(), { name: 'vdb', description: 'second', device: new ReadOnlyDisk(memoryBackup(IMG.subarray(0, 4096), 'vdb'), 'vdb') }]);
    const c = await connect(socket);
    c.sendOption(P.Opt.LIST);
    const list = await c.optionReplies();
    expect(list.slice(0, -1).map((r) => r.data.toString('utf8', 4, 4 + r.data.readUInt32BE(0)))).toEqual(['vda', 'vdb']);

    c.sendOption(P.Opt.INFO, infoRequest('nope'));
    const unknown = await c.optionReply();
    expect(unknown.type).toBe(P.Rep.ERR_UNKNOWN);
    expect(unknown.data.toString()).toContain('exports: vda, vdb');

    c.sendOption(P.Opt.SET_META_CONTEXT, metaRequest('', ['base:allocation']));
    expect((await c.optionReply()).type).toBe(P.Rep.ERR_INVALID); // structured replies first
    c.sendOption(P.Opt.INFO, Buffer.from([0, 0, 0, 9, 1]));
    expect((await c.optionReply()).type).toBe(P.Rep.ERR_INVALID);
    c.sendOption(99);
    expect((await c.optionReply()).type).toBe(P.Rep.ERR_UNSUP);

    // The default export "" is the first one; INFO with NAME and DESCRIPTION.
    c.sendOption(P.Opt.INFO, infoRequest('', [P.Info.NAME, P.Info.DESCRIPTION]));
    const info = await c.optionReplies();
    expect(info.map((r) => r.type)).toEqual([P.Rep.INFO, P.Rep.INFO, P.Rep.INFO, P.Rep.INFO, P.Rep.ACK]);
    expect(info.slice(0, -1).map((r) => r.data.readUInt16BE(0))).toEqual([P.Info.EXPORT, P.Info.NAME, P.Info.DESCRIPTION, P.Info.BLOCK_SIZE]);
    expect(Number(info[0]!.data.readBigUInt64BE(2))).toBe(IMG.length);
    expect(info[0]!.data.readUInt16BE(10) & P.TFlag.READ_ONLY).toBe(P.TFlag.READ_ONLY);
    expect(info[1]!.data.toString('utf8', 2)).toBe('vda');

    c.sendOption(P.Opt.ABORT);
    expect((await c.optionReply()).type).toBe(P.Rep.ACK);
    await c.closed();
  });

  it('supports the old NBD_OPT_EXPORT_NAME, hanging up on an unknown name', async () => {
    const { socket } = await start([readOnly()]);
    const bad = await connect(socket);
    bad.sendOption(P.Opt.EXPORT_NAME, Buffer.from('nope'));
    await bad.closed();

    const c = await connect(socket);
    c.sendOption(P.Opt.EXPORT_NAME, Buffer.from('vda'));
    const r = await c.read(10); // no 124 zero bytes: the client asked for NO_ZEROES
    expect(Number(r.readBigUInt64BE(0))).toBe(IMG.length);
    c.sendRequest(P.Cmd.READ, 7, 1000, 100);
    expect(await c.simpleReply()).toEqual({ error: 0, cookie: 7 });
    expect((await c.read(100)).equals(IMG.subarray(1000, 1100))).toBe(true);
    c.sendRequest(P.Cmd.DISC, 8, 0, 0);
    await c.closed();
  });
});

describe('NBD transmission', () => {
  it('refuses writes on a read-only export with EPERM and keeps serving', async () => {
    const { socket } = await start([readOnly()]);
    const c = await connect(socket);
    expect((await negotiate(c)) & P.TFlag.READ_ONLY).toBe(P.TFlag.READ_ONLY);
    for (const [type, payload] of [[P.Cmd.WRITE, Buffer.alloc(512, 1)], [P.Cmd.TRIM, undefined], [P.Cmd.WRITE_ZEROES, undefined]] as const) {
      c.sendRequest(type, 1, 0, 512, 0, payload);
      const e = await c.chunk();
      expect([e.type, e.payload.readUInt32BE(0)]).toEqual([P.ReplyType.ERROR, P.Errno.EPERM]);
    }
    c.sendRequest(P.Cmd.READ, 2, 0, 512);
    const d = await c.chunk();
    expect(d.type).toBe(P.ReplyType.OFFSET_DATA);
    expect(d.payload.subarray(8).equals(IMG.subarray(0, 512))).toBe(true);
    c.sendRequest(P.Cmd.READ, 3, IMG.length - 10, 11);
    expect((await c.chunk()).payload.readUInt32BE(0)).toBe(P.Errno.EINVAL);
  });

  it('answers block status per base:allocation, with REQ_ONE and without a negotiated context', async () => {
    const { socket } = await start([readOnly()]);
    const c = await connect(socket);
    await negotiate(c);
    c.sendRequest(P.Cmd.BLOCK_STATUS, 1, 0, IMG.length);
    const s = await c.chunk();
    const desc = (b: Buffer): number[][] => Array.from({ length: (b.length - 4) / 8 }, (_, i) => [b.readUInt32BE(4 + 8 * i), b.readUInt32BE(8 + 8 * i)]);
    expect(desc(s.payload)).toEqual([[65536, 0], [131072, 3], [65536, 0]]);
    c.sendRequest(P.Cmd.BLOCK_STATUS, 2, 70_000, 1000, P.CmdFlag.REQ_ONE);
    expect(desc((await c.chunk()).payload)).toEqual([[1000, 3]]);
    // A read of a zero run is a hole chunk, not 4 KiB of zeros.
    c.sendRequest(P.Cmd.READ, 3, 65536, 4096);
    const hole = await c.chunk();
    expect([hole.type, hole.payload.readUInt32BE(8)]).toEqual([P.ReplyType.OFFSET_HOLE, 4096]);

    const plain = await connect(socket);
    await negotiate(plain, 'vda', false);
    plain.sendRequest(P.Cmd.BLOCK_STATUS, 4, 0, 4096);
    expect((await plain.chunk()).payload.readUInt32BE(0)).toBe(P.Errno.EINVAL);
  });

  it('replies out of order, matched by cookie, with bounded requests in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let running = 0;
    let most = 0;
    const base = new ReadOnlyDisk(memoryBackup(IMG), 'vda');
    const slow: BlockDevice = Object.assign(Object.create(base) as BlockDevice, {
      read: async (offset: number, length: number) => {
        running++;
        most = Math.max(most, running);
        if (offset === 0) await gate;
        else await new Promise((r) => setTimeout(r, 1));
        running--;
        return base.read(offset, length);
      },
    });
    const { socket } = await start([{ name: 'vda', description: '', device: slow }], 4);
    const c = await connect(socket);
    await negotiate(c);
    c.sendRequest(P.Cmd.READ, 100, 0, 16); // held until the others are answered
    for (let i = 1; i <= 20; i++) c.sendRequest(P.Cmd.READ, 100 + i, i * 1000, 16);
    const order: number[] = [];
    for (let i = 0; i < 20; i++) order.push((await c.chunk()).cookie);
    expect(order.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 101 + i));
    expect(most).toBeLessThanOrEqual(4);
    release();
    const first = await c.chunk();
    expect(first.cookie).toBe(100);
    expect(first.payload.subarray(8).equals(IMG.subarray(0, 16))).toBe(true);
  });

  it('writes, trims and flushes through an overlay, shared by every connection', async () => {
    const overlay = await CowOverlay.create(new ReadOnlyDisk(memoryBackup(IMG), 'vda'), await dirs.make('vplus-nbd-ovl-'));
    const { socket } = await start([{ name: 'vda', description: '', device: overlay }]);
    const a = await connect(socket);
    const b = await connect(socket);
    const flags = await negotiate(a);
    await negotiate(b);
    expect(flags & P.TFlag.READ_ONLY).toBe(0);
    expect(flags & (P.TFlag.SEND_TRIM | P.TFlag.SEND_WRITE_ZEROES | P.TFlag.CAN_MULTI_CONN)).toBe(P.TFlag.SEND_TRIM | P.TFlag.SEND_WRITE_ZEROES | P.TFlag.CAN_MULTI_CONN);
    a.sendRequest(P.Cmd.WRITE, 1, 100, 4, P.CmdFlag.FUA, Buffer.from('abcd'));
    expect((await a.chunk()).type).toBe(P.ReplyType.NONE);
    a.sendRequest(P.Cmd.TRIM, 2, 0, 50);
    a.sendRequest(P.Cmd.FLUSH, 3, 0, 0);
    expect([(await a.chunk()).type, (await a.chunk()).type]).toEqual([P.ReplyType.NONE, P.ReplyType.NONE]);
    b.sendRequest(P.Cmd.READ, 4, 0, 200);
    const got = (await b.chunk()).payload.subarray(8);
    const expected = Buffer.from(IMG.subarray(0, 200));
    expected.fill(0, 0, 50);
    expected.write('abcd', 100);
    expect(got.equals(expected)).toBe(true);
    a.sendRequest(P.Cmd.WRITE, 5, IMG.length - 2, 4, 0, Buffer.from('wxyz'));
    expect((await a.chunk()).payload.readUInt32BE(0)).toBe(P.Errno.ENOSPC);
  });
});

describe('NBD server lifecycle', () => {
  it('closes clients and removes its socket; a second server on a live socket is refused, a stale one replaced', async () => {
    const { server, socket } = await start([readOnly()]);
    const c = await connect(socket);
    await negotiate(c);
    const other = new NbdServer({ exports: [readOnly()] });
    await expect(other.listen(socket)).rejects.toMatchObject({ code: 'NBD_SOCKET_IN_USE' });
    await other.close();
    await server.close();
    await c.closed();
    expect(existsSync(socket)).toBe(false);
    expect(() => new NbdServer({ exports: [] })).toThrow(NbdServerError);

    // A server killed with SIGKILL leaves its socket file behind: the next one takes the path over.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`]);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(existsSync(socket)).toBe(true);
    const next = new NbdServer({ exports: [readOnly()] });
    servers.push(next);
    await next.listen(socket);
    const c2 = await connect(socket);
    await negotiate(c2);

    const notSocket = path.join(path.dirname(socket), 'file');
    await writeFile(notSocket, 'x');
    const third = new NbdServer({ exports: [readOnly()] });
    await expect(third.listen(notSocket)).rejects.toMatchObject({ code: 'NBD_LISTEN_FAILED' });
    await third.close();
  });
});
