/**
 * The NBD server over a real repository, driven by the real NBD tools (libnbd's nbdcopy and
 * nbdinfo, QEMU's qemu-img and qemu-io).
 */
import { execFile } from 'node:child_process';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backupReaderSource, type BackupDataSource } from '../../../node-service/mount/block-device.js';
import { serveBackup, type NbdServer } from '../../../node-service/mount/nbd-server.js';
import { NbdClient } from '../../../node-service/platforms/kvm/nbd-client.js';
import { Repository, type BackupReader } from '../../../node-service/repository/index.js';
import { KIB, MIB, TempDirs, makeImage, memorySource } from '../../unit/repository/helpers.js';
import { requireBinary } from '../../support/requirements.js';

const run = promisify(execFile);
const NBDCOPY = requireBinary(['/usr/bin/nbdcopy'], 'sudo apt-get install -y libnbd-bin');
const NBDINFO = requireBinary(['/usr/bin/nbdinfo'], 'sudo apt-get install -y libnbd-bin');
const QEMU_IMG = requireBinary(['/usr/bin/qemu-img'], 'sudo apt-get install -y qemu-utils');
const QEMU_IO = requireBinary(['/usr/bin/qemu-io'], 'sudo apt-get install -y qemu-utils');

const CHUNK = 256 * KIB;
const SIZE = 6 * MIB;
// Data, a 1.5 MiB zero gap (6 zero chunks), more data, a gap, data in the last chunk.
const IMAGE = makeImage(SIZE, [
  { kind: 'random', offset: 0, length: 600 * KIB, seed: 1 },
  { kind: 'text', offset: 2 * MIB + 100, length: 1200 * KIB, seed: 2 },
  { kind: 'random', offset: SIZE - 5000, length: 5000, seed: 3 },
]);

const dirs = new TempDirs();
const servers: NbdServer[] = [];
let repo: Repository;
let reader: BackupReader;
let source: BackupDataSource;
let imageFile: string;

beforeAll(async () => {
  const root = await dirs.make('vplus-nbd-test-');
  repo = await Repository.init(path.join(root, 'repo'), { chunkSize: CHUNK }, { threads: 2 });
  const w = await repo.startBackup({ group: 'vm:a' });
  await w.writeDisk('vda', SIZE, memorySource(IMAGE));
  await w.writeDisk('vdb', 2 * MIB, memorySource(IMAGE.subarray(0, 2 * MIB)));
  const manifest = await w.commit();
  reader = await repo.openBackup(manifest.id);
  source = backupReaderSource(reader);
  imageFile = path.join(root, 'image.raw');
  await writeFile(imageFile, IMAGE);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await repo.close();
  await dirs.cleanup();
});

async function serve(overlay = false): Promise<{ server: NbdServer; socket: string; uri: string; overlayDir: string | undefined }> {
  const dir = await dirs.make('vplus-nbd-sock-');
  const socket = path.join(dir, 'nbd.sock');
  const overlayDir = overlay ? await dirs.make('vplus-nbd-overlay-') : undefined;
  const server = await serveBackup(source, { socketPath: socket, ...(overlayDir ? { overlayDir } : {}) });
  servers.push(server);
  return { server, socket, uri: `nbd+unix:///?socket=${socket}`, overlayDir };
}

async function copyOut(uri: string): Promise<Buffer> {
  const out = path.join(await dirs.make('vplus-nbd-out-'), 'out.raw');
  await run(NBDCOPY, [uri, out]);
  return readFile(out);
}

/** `nbdinfo --map` as [offset, length, type] rows. */
async function map(uri: string): Promise<[number, number, number][]> {
  const { stdout } = await run(NBDINFO, ['--map', uri]);
  return stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).slice(0, 3).map(Number) as [number, number, number]);
}

describe('NBD server over a backup', () => {
  it('serves the disk bit-exact to nbdcopy, maps zero chunks as holes, compares equal in qemu-img', async () => {
    const { uri, socket } = await serve();
    expect((await stat(socket)).mode & 0o777).toBe(0o600);

    expect((await copyOut(uri)).equals(IMAGE)).toBe(true);

    // Chunks: 0..2 data (600 KiB), 3..7 zero, 8..12 data (2 MiB+100 .. 3.2 MiB), 13..22 zero, 23 data.
    expect(await map(uri)).toEqual([
      [0, 3 * CHUNK, 0],
      [3 * CHUNK, 5 * CHUNK, 3],
      [8 * CHUNK, 5 * CHUNK, 0],
      [13 * CHUNK, 10 * CHUNK, 3],
      [23 * CHUNK, CHUNK, 0],
    ]);

    const { stdout } = await run(QEMU_IMG, ['compare', '-f', 'raw', '-F', 'raw', imageFile, uri]);
    expect(stdout).toContain('Images are identical');

    // Every disk is an export of its own; the default export is the first.
    const { stdout: list } = await run(NBDINFO, ['--list', '--json', uri]);
    const exports = (JSON.parse(list) as { exports: { 'export-name': string; 'export-size': number; is_read_only: boolean }[] }).exports;
    expect(exports.map((e) => [e['export-name'], e['export-size'], e.is_read_only])).toEqual([
      ['vda', SIZE, true],
      ['vdb', 2 * MIB, true],
    ]);
    expect((await copyOut(`nbd+unix:///vdb?socket=${socket}`)).equals(IMAGE.subarray(0, 2 * MIB))).toBe(true);
  });

  it('serves several clients at once, each with many requests in flight', async () => {
    const { server, socket, uri } = await serve();
    const a = await NbdClient.connect(socket, 'vda', ['base:allocation']);
    const b = await NbdClient.connect(socket, 'vda');
    try {
      expect(server.clientCount).toBe(2);
      // 64 reads of odd sizes across chunk boundaries, all in flight together on two connections.
      const reads = Array.from({ length: 64 }, (_, i) => ({ client: i % 2 ? a : b, offset: (i * 97 * KIB + i) % (SIZE - 70 * KIB), length: 1 + ((i * 7919) % (70 * KIB)) }));
      const results = await Promise.all(
        reads.map(async (r) => {
          const into = Buffer.alloc(r.length);
          await r.client.read(into, r.offset);
          return into;
        }),
      );
      reads.forEach((r, i) => expect(results[i]!.equals(IMAGE.subarray(r.offset, r.offset + r.length))).toBe(true));
      // A third client (nbdcopy, itself several connections) while both stay connected.
      const [copied, extents] = await Promise.all([copyOut(uri), a.blockStatus('base:allocation', 0, SIZE)]);
      expect(copied.equals(IMAGE)).toBe(true);
      expect(extents.filter((e) => e.flags === 3).map((e) => [e.offset, e.length])).toEqual([
        [3 * CHUNK, 5 * CHUNK],
        [13 * CHUNK, 10 * CHUNK],
      ]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('with the overlay, writes land in the overlay; the repository and an overlay-less export keep the original', async () => {
    const { uri, overlayDir, server } = await serve(true);
    const { uri: plainUri } = await serve(false);

    await run(QEMU_IO, ['-f', 'raw', '-c', 'write -P 0x5a 0 64k', uri]);
    const { stdout } = await run(QEMU_IO, ['-f', 'raw', '-c', 'read -P 0x5a 0 64k', uri]);
    expect(stdout).not.toContain('Pattern verification failed');
    expect(stdout).toContain('read 65536/65536 bytes');

    const expected = Buffer.from(IMAGE);
    expected.fill(0x5a, 0, 64 * KIB);
    expect((await copyOut(uri)).equals(expected)).toBe(true);
    expect((await copyOut(plainUri)).equals(IMAGE)).toBe(true);
    const fresh = await repo.openBackup(reader.id);
    expect((await fresh.readRange('vda', 0, 128 * KIB)).equals(IMAGE.subarray(0, 128 * KIB))).toBe(true);

    // Writing into a zero chunk makes it allocated; the rest of the map is the backup's.
    await run(QEMU_IO, ['-f', 'raw', '-c', `write -P 0x11 ${4 * CHUNK} 4k`, uri]);
    expect((await map(uri)).slice(0, 4)).toEqual([
      [0, 3 * CHUNK, 0],
      [3 * CHUNK, CHUNK, 3],
      [4 * CHUNK, 4 * KIB, 0],
      [4 * CHUNK + 4 * KIB, 4 * CHUNK - 4 * KIB, 3],
    ]);
    // The overlay file is unlinked from the start: nothing to leave behind.
    expect(await readdir(overlayDir!)).toEqual([]);
    await server.close();
    expect(await readdir(overlayDir!)).toEqual([]);
  });

  it('without the overlay, the export is read-only and a write is refused', async () => {
    const { uri } = await serve(false);
    const outcome = (cmd: string, args: string[]): Promise<string> =>
      run(cmd, args).then(
        () => 'succeeded',
        (err: { stdout: string; stderr: string }) => err.stdout + err.stderr,
      );
    // The export says it is read-only: QEMU will not open it for writing, libnbd will not send writes.
    expect(await outcome(QEMU_IO, ['-f', 'raw', '-c', 'write -P 0x5a 0 64k', uri])).toMatch(/Permission denied|read-only/i);
    expect(await outcome(NBDCOPY, [imageFile, uri])).toMatch(/read-only|not permitted|does not support write/i);
    expect((await copyOut(uri)).equals(IMAGE)).toBe(true);
  });
});
