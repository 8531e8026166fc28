/**
 * The tar a node sends for a restore to another node, and its extraction there: contents,
 * modes, times and symlinks come through; an entry that would land outside the target, or
 * be written through a link the stream itself made, is refused; nothing is replaced unless
 * asked.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTar, selectionTotals, tarSelection } from '../../../node-service/mount/tar-transfer.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tar-transfer-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

function tree(): string {
  const root = fs.mkdtempSync(path.join(dir, 'src-'));
  fs.mkdirSync(path.join(root, 'etc/deep/er'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  fs.writeFileSync(path.join(root, 'etc/deep/er/ünïcødé name with spaces and a rather long name that needs a pax header to be stored whole in a tar archive.txt'), 'x'.repeat(5000));
  fs.writeFileSync(path.join(root, 'etc/big.bin'), Buffer.alloc(3 * 1024 * 1024, 9));
  fs.chmodSync(path.join(root, 'etc/hosts'), 0o640);
  fs.symlinkSync('hosts', path.join(root, 'etc/link'));
  fs.symlinkSync('/etc/shadow', path.join(root, 'etc/outside'));
  fs.utimesSync(path.join(root, 'etc/hosts'), new Date('2025-05-05T05:05:05Z'), new Date('2025-05-05T05:05:05Z'));
  fs.utimesSync(path.join(root, 'etc/deep'), new Date('2024-04-04T04:04:04Z'), new Date('2024-04-04T04:04:04Z'));
  return root;
}

async function roundTrip(root: string, paths: string[], dest: string, overwrite = false) {
  const stream = new PassThrough();
  const sent = tarSelection(root, paths, stream);
  const got = extractTar(stream, dest, { overwrite });
  const [s, g] = await Promise.allSettled([sent, got]);
  if (g.status === 'rejected') throw g.reason;
  if (s.status === 'rejected') throw s.reason;
  return g.value;
}

describe('restore to another node as a tar stream', () => {
  it('carries contents, modes, times and links, from different folders', async () => {
    const root = tree();
    const dest = fs.mkdtempSync(path.join(dir, 'dest-'));
    const totals = await selectionTotals(root, ['etc']);
    const r = await roundTrip(root, ['etc'], dest);
    expect(r.entriesDone).toBe(totals.entries);
    expect(r.bytesDone).toBe(totals.bytes);
    for (const f of ['etc/hosts', 'etc/big.bin']) expect(sha(path.join(dest, f))).toBe(sha(path.join(root, f)));
    const long = fs.readdirSync(path.join(dest, 'etc/deep/er'));
    expect(long).toEqual(fs.readdirSync(path.join(root, 'etc/deep/er')));
    expect(fs.statSync(path.join(dest, 'etc/hosts')).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.join(dest, 'etc/hosts')).mtime.toISOString()).toBe('2025-05-05T05:05:05.000Z');
    expect(fs.statSync(path.join(dest, 'etc/deep')).mtime.toISOString()).toBe('2024-04-04T04:04:04.000Z');
    expect(fs.readlinkSync(path.join(dest, 'etc/link'))).toBe('hosts');
    expect(fs.readlinkSync(path.join(dest, 'etc/outside'))).toBe('/etc/shadow');
    // Nothing replaced without being asked; replaced when asked.
    await expect(roundTrip(root, ['etc/hosts'], path.join(dest, 'etc'))).rejects.toMatchObject({ code: 'EXISTS' });
    fs.writeFileSync(path.join(dest, 'etc/hosts'), 'changed');
    await roundTrip(root, ['etc/hosts'], path.join(dest, 'etc'), true);
    expect(sha(path.join(dest, 'etc/hosts'))).toBe(sha(path.join(root, 'etc/hosts')));
  });

  it('fails cleanly when the reader goes away in the middle of a file', async () => {
    const root = tree();
    let seen = 0;
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _e, done) {
        seen += chunk.length;
        // Out of credit inside big.bin, then cancelled by the server (as a CreditSink is).
        if (seen > 1024 * 1024) setTimeout(() => out.destroy(new Error('cancelled by the server')), 10);
        else setImmediate(done);
      },
    });
    await expect(tarSelection(root, ['etc/big.bin'], out)).rejects.toThrow(/cancelled/);
    // Anything left unhandled would fail this run (vitest reports unhandled rejections).
    await new Promise((r) => setTimeout(r, 50));
  });

  async function hostile(entries: { name: string; type: 'file' | 'symlink' | 'directory'; linkname?: string; data?: string }[]) {
    const p = pack();
    for (const e of entries) p.entry({ name: e.name, type: e.type, ...(e.linkname ? { linkname: e.linkname } : {}) }, Buffer.from(e.data ?? ''));
    p.finalize();
    const dest = fs.mkdtempSync(path.join(dir, 'hostile-'));
    const result = extractTar(p as unknown as Readable, dest, { overwrite: true });
    return { dest, result };
  }

  it('refuses names that leave the target and writes through no link', async () => {
    const up = await hostile([{ name: '../escaped.txt', type: 'file', data: 'x' }]);
    await expect(up.result).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    expect(fs.existsSync(path.join(up.dest, '..', 'escaped.txt'))).toBe(false);
    const abs = await hostile([{ name: '/tmp/absolute.txt', type: 'file', data: 'x' }]);
    await expect(abs.result).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    const outside = fs.mkdtempSync(path.join(dir, 'victim-'));
    const through = await hostile([
      { name: 'a', type: 'symlink', linkname: outside },
      { name: 'a/planted.txt', type: 'file', data: 'x' },
    ]);
    await expect(through.result).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    expect(fs.readdirSync(outside)).toEqual([]);
  });
});
