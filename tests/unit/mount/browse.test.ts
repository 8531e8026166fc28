import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, lutimes, mkdir, open, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { BrowseError, list, openRead, readIdNames, resolveInside, search, stat } from '../../../node-service/mount/browse.js';
import { copyOut } from '../../../node-service/mount/copy-out.js';
import { zip } from '../../../node-service/mount/zip-stream.js';
import { TempDirs } from '../repository/helpers.js';

const run = promisify(execFile);
const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

/** A mount-like tree: root/ (the filesystem) beside outside/ (what must stay unreachable). */
async function tree(): Promise<{ top: string; root: string }> {
  const top = await dirs.make('vplus-browse-');
  const root = path.join(top, 'root');
  await mkdir(path.join(root, 'home/alice/docs'), { recursive: true });
  await mkdir(path.join(top, 'outside'));
  await writeFile(path.join(top, 'outside/secret'), 'secret');
  await writeFile(path.join(root, 'home/alice/docs/report.txt'), 'quarterly\n');
  await symlink('docs/report.txt', path.join(root, 'home/alice/latest')); // inside: fine
  await symlink('/etc', path.join(root, 'etc-link'));
  await symlink('../../..', path.join(root, 'home/alice/up'));
  await symlink('../outside/secret', path.join(root, 'climb'));
  // Leaves through '..' and comes back in by the root's own name.
  await symlink('../root/home', path.join(root, 'reenter'));
  await symlink(path.join(root, 'home'), path.join(root, 'abs-into-root'));
  await symlink('loop-b', path.join(root, 'loop-a'));
  await symlink('loop-a', path.join(root, 'loop-b'));
  return { top, root };
}

async function refused(p: Promise<unknown>, code: string, names: string): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BrowseError);
  expect((e as BrowseError).code).toBe(code);
  expect((e as BrowseError).message).toContain(names);
}

describe('resolveInside', () => {
  it('refuses every way out with PATH_ESCAPE, naming the path', async () => {
    const { root } = await tree();
    await refused(resolveInside(root, '..'), 'PATH_ESCAPE', '..');
    await refused(resolveInside(root, 'home/../../outside/secret'), 'PATH_ESCAPE', 'home/../../outside/secret');
    await refused(resolveInside(root, '/etc/passwd'), 'PATH_ESCAPE', '/etc/passwd');
    await refused(resolveInside(root, 'home/a\0b'), 'PATH_ESCAPE', 'home/a\\u0000b');
    await refused(resolveInside(root, 'etc-link/passwd'), 'PATH_ESCAPE', 'etc-link/passwd');
    await refused(resolveInside(root, 'etc-link'), 'PATH_ESCAPE', '/etc');
    await refused(resolveInside(root, 'home/alice/up/outside/secret'), 'PATH_ESCAPE', 'home/alice/up/outside/secret');
    await refused(resolveInside(root, 'climb'), 'PATH_ESCAPE', 'climb');
    await refused(resolveInside(root, 'reenter/alice'), 'PATH_ESCAPE', 'reenter/alice');
    await refused(resolveInside(root, 'abs-into-root/alice'), 'PATH_ESCAPE', 'abs-into-root/alice');
    await refused(resolveInside(root, 'loop-a'), 'SYMLINK_LOOP', 'loop-a');
    await refused(resolveInside(root, 'home/nobody'), 'NOT_FOUND', 'home/nobody');
    await refused(resolveInside(root, 'home/alice/docs/report.txt/x'), 'NOT_A_DIRECTORY', 'report.txt');
  });

  it('follows links and .. that stay inside, to a canonical path', async () => {
    const { root } = await tree();
    expect((await resolveInside(root, 'home/alice/latest')).rel).toBe('home/alice/docs/report.txt');
    expect((await resolveInside(root, './home//alice/../alice/docs/')).rel).toBe('home/alice/docs');
    expect((await resolveInside(root, '')).rel).toBe('');
    const link = await resolveInside(root, 'etc-link', { followLast: false });
    expect(link.stats.isSymbolicLink()).toBe(true);
  });

  it('lists a link as a link with its target, and never reads through it', async () => {
    const { root } = await tree();
    const l = await list(root, '');
    const etc = l.entries.find((e) => e.name === 'etc-link');
    expect(etc).toMatchObject({ type: 'symlink', target: '/etc' });
    expect(await stat(root, 'climb')).toMatchObject({ path: 'climb', type: 'symlink', target: '../outside/secret' });
    await refused(openRead(root, 'climb'), 'PATH_ESCAPE', 'climb');
    await refused(list(root, 'etc-link'), 'PATH_ESCAPE', 'etc-link');
    await refused(openRead(root, 'home'), 'NOT_A_FILE', 'home');
  });
});

describe('listing and reading', () => {
  it('lists and reads unicode and space names, and byte ranges', async () => {
    const { root } = await tree();
    const dir = path.join(root, 'Über ordner');
    await mkdir(dir);
    await writeFile(path.join(dir, 'naïve café ☕.txt'), '0123456789');
    await chmod(path.join(dir, 'naïve café ☕.txt'), 0o640);
    const l = await list(root, 'Über ordner');
    expect(l).toMatchObject({ path: 'Über ordner', total: 1, truncated: false });
    expect(l.entries[0]).toMatchObject({ name: 'naïve café ☕.txt', type: 'file', size: 10, mode: 0o640 });
    const all = await openRead(root, 'Über ordner/naïve café ☕.txt');
    expect(await text(all.stream)).toBe('0123456789');
    const part = await openRead(root, 'Über ordner/naïve café ☕.txt', { start: 2, end: 5 });
    expect([await text(part.stream), part.size]).toEqual(['2345', 10]);
    // An end past the file is its last byte (HTTP); a start past it is refused.
    const tail = await openRead(root, 'Über ordner/naïve café ☕.txt', { start: 5, end: 262143 });
    expect([await text(tail.stream), tail.end]).toEqual(['56789', 9]);
    await refused(openRead(root, 'Über ordner/naïve café ☕.txt', { start: 10, end: 12 }), 'INVALID_RANGE', 'naïve');
  });

  it('pages and sorts by name, size and mtime; bounds the scan', async () => {
    const { root } = await tree();
    const d = path.join(root, 'many');
    await mkdir(d);
    for (let i = 0; i < 25; i++) {
      const f = path.join(d, `f${String(i).padStart(2, '0')}`);
      await writeFile(f, Buffer.alloc((i * 7) % 25));
      await utimes(f, 1_600_000_000 + ((i * 11) % 25), 1_600_000_000 + ((i * 11) % 25));
    }
    const byName = await list(root, 'many', { offset: 10, limit: 5 });
    expect(byName.entries.map((e) => e.name)).toEqual(['f10', 'f11', 'f12', 'f13', 'f14']);
    expect(byName.total).toBe(25);
    const bySize = await list(root, 'many', { sort: 'size', order: 'desc', limit: 3 });
    expect(bySize.entries.map((e) => e.size)).toEqual([24, 23, 22]);
    const byTime = await list(root, 'many', { sort: 'mtime', limit: 25 });
    const times = byTime.entries.map((e) => Date.parse(e.mtime));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(byTime.entries[0]!.mtime).toBe(new Date(1_600_000_000_000).toISOString());
    const capped = await list(root, 'many', { maxScan: 10 });
    expect([capped.total, capped.truncated, capped.entries.length]).toEqual([10, true, 10]);
  });

  it("names owners from the filesystem's own passwd and group", async () => {
    const { root } = await tree();
    await mkdir(path.join(root, 'etc'));
    await writeFile(path.join(root, 'etc/passwd'), `root:x:0:0::/root:/bin/sh\nguest:x:${process.getuid!()}:1:::\n`);
    await writeFile(path.join(root, 'etc/group'), `wheel:x:${process.getgid!()}:\n`);
    const names = await readIdNames(root);
    const l = await list(root, 'home', { names });
    expect(l.entries[0]).toMatchObject({ name: 'alice', owner: process.getuid!() === 0 ? 'root' : 'guest', group: 'wheel' });
  });
});

describe('search', () => {
  it('finds by substring or glob, case-insensitively, without following links, within bounds', async () => {
    const { root } = await tree();
    await symlink('.', path.join(root, 'home/self')); // a loop if links were followed
    for (let i = 0; i < 30; i++) await writeFile(path.join(root, `home/alice/Note-${i}.TXT`), '');
    const sub = await search(root, 'home', 'REPORT');
    expect(sub.hits.map((h) => h.path)).toEqual(['home/alice/docs/report.txt']);
    expect(sub.truncated).toBe(false);
    const glob = await search(root, '', 'note-1?.txt');
    expect(glob.hits.map((h) => h.path).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `home/alice/Note-1${i}.TXT`).sort());
    const limited = await search(root, '', 'note', { limit: 5 });
    expect([limited.hits.length, limited.truncated]).toEqual([5, true]);
    const bounded = await search(root, '', 'report', { maxVisited: 3 });
    expect([bounded.visited, bounded.truncated, bounded.hits.length]).toEqual([3, true, 0]);
    const stop = new AbortController();
    stop.abort();
    expect(await search(root, '', 'note', { signal: stop.signal })).toEqual({ hits: [], visited: 0, truncated: true });
    const links = await search(root, '', 'self');
    expect(links.hits).toEqual([expect.objectContaining({ path: 'home/self', type: 'symlink', target: '.' })]);
    await refused(search(root, 'etc-link', 'passwd'), 'PATH_ESCAPE', 'etc-link');
  });
});

describe('copyOut', () => {
  it('restores files, folders and symlinks with their times and modes, and refuses to overwrite unless asked', async () => {
    const { top, root } = await tree();
    const docs = path.join(root, 'home/alice/docs');
    await chmod(path.join(docs, 'report.txt'), 0o604);
    await symlink('report.txt', path.join(docs, 'link'));
    await lutimes(path.join(docs, 'link'), 1_500_000_100, 1_500_000_100);
    await utimes(path.join(docs, 'report.txt'), 1_500_000_000, 1_500_000_000);
    await chmod(docs, 0o750);
    await utimes(docs, 1_400_000_000, 1_400_000_000);
    const dest = path.join(top, 'restore');
    await mkdir(dest);
    const seen: number[] = [];
    const r = await copyOut(root, ['home/alice/docs', 'home/alice/latest'], dest, { onProgress: (p) => seen.push(p.bytesDone) });
    expect(r).toMatchObject({ bytesDone: 10, bytesTotal: 10, entriesDone: 4, entriesTotal: 4, skipped: [] });
    expect(seen.at(-1)).toBe(10);
    expect((await readdir(dest)).sort()).toEqual(['docs', 'latest']);
    const f = await lstat(path.join(dest, 'docs/report.txt'));
    expect([f.mode & 0o7777, f.mtimeMs]).toEqual([0o604, 1_500_000_000_000]);
    const d = await lstat(path.join(dest, 'docs'));
    expect([d.mode & 0o7777, d.mtimeMs]).toEqual([0o750, 1_400_000_000_000]);
    const l = await lstat(path.join(dest, 'docs/link'));
    expect([l.isSymbolicLink(), await readlink(path.join(dest, 'docs/link')), l.mtimeMs]).toEqual([true, 'report.txt', 1_500_000_100_000]);
    expect(await readlink(path.join(dest, 'latest'))).toBe('docs/report.txt');
    if (process.getuid!() === 0) expect(f.uid).toBe(0);

    await writeFile(path.join(docs, 'report.txt'), 'changed\n');
    await refused(copyOut(root, ['home/alice/docs'], dest), 'EXISTS', 'report.txt');
    expect(await readFile(path.join(dest, 'docs/report.txt'), 'utf8')).toBe('quarterly\n');
    await copyOut(root, ['home/alice/docs'], dest, { overwrite: true });
    expect(await readFile(path.join(dest, 'docs/report.txt'), 'utf8')).toBe('changed\n');
    expect((await readdir(path.join(dest, 'docs'))).sort()).toEqual(['link', 'report.txt']); // no temp files left
    await refused(copyOut(root, ['home/alice/up/outside/secret'], dest), 'PATH_ESCAPE', 'home/alice/up/outside/secret');
  });
});


/** Lists a zip with python's zipfile: name, unix mode, local date_time, and the link text of symlinks. */
async function zipListing(file: string): Promise<{ name: string; mode: number; date: number[]; size: number; link?: string }[]> {
  const py = `
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
out = []
for i in z.infolist():
    mode = i.external_attr >> 16
    e = {"name": i.filename, "mode": mode, "date": list(i.date_time), "size": i.file_size}
    if (mode & 0o170000) == 0o120000:
        e["link"] = z.read(i).decode()
    out.append(e)
print(json.dumps(out))
`;
  const { stdout } = await run('python3', ['-c', py, file]);
  return JSON.parse(stdout) as { name: string; mode: number; date: number[]; size: number; link?: string }[];
}

const localDate = (sec: number): number[] => {
  const d = new Date(sec * 1000);
  return [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
};

describe('zip', () => {
  it('streams a folder with modes, mtimes and symlinks stored as symlinks', async () => {
    const { top, root } = await tree();
    const docs = path.join(root, 'home/alice/docs');
    await writeFile(path.join(docs, 'naïve café.txt'), 'x'.repeat(5000));
    await chmod(path.join(docs, 'naïve café.txt'), 0o640);
    await symlink('/etc/passwd', path.join(docs, 'abs-link'));
    await utimes(path.join(docs, 'report.txt'), 1_500_000_000, 1_500_000_000);
    await utimes(docs, 1_400_000_000, 1_400_000_000);
    const file = path.join(top, 'out.zip');
    const r = await zip(root, ['home/alice/docs', 'home/alice/latest'], createWriteStream(file));
    expect(r).toEqual({ entries: 5, bytes: 5010 });
    const entries = await zipListing(file);
    const by = new Map(entries.map((e) => [e.name, e]));
    expect([...by.keys()].sort()).toEqual(['docs/', 'docs/abs-link', 'docs/naïve café.txt', 'docs/report.txt', 'latest']);
    expect(by.get('docs/')).toMatchObject({ mode: 0o40000 | ((await lstat(docs)).mode & 0o7777), date: localDate(1_400_000_000) });
    expect(by.get('docs/report.txt')).toMatchObject({ size: 10, date: localDate(1_500_000_000) });
    expect(by.get('docs/naïve café.txt')).toMatchObject({ mode: 0o100640, size: 5000 });
    expect(by.get('docs/abs-link')).toMatchObject({ link: '/etc/passwd' });
    expect(by.get('latest')).toMatchObject({ link: 'docs/report.txt' });
    const { stdout } = await run('unzip', ['-p', file, 'docs/report.txt']);
    expect(stdout).toBe('quarterly\n');
  });

  it('refuses an escaping path before writing anything', async () => {
    const { root } = await tree();
    let written = 0;
    const sink = new Writable({
      write(c: Buffer, _e, cb): void {
        written += c.length;
        cb();
      },
    });
    await refused(zip(root, ['home', 'etc-link/passwd'], sink), 'PATH_ESCAPE', 'etc-link/passwd');
    expect(written).toBe(0);
  });

  it('stops and rejects when the client goes away mid-download, and stores empty files', async () => {
    const { top, root } = await tree();
    await writeFile(path.join(root, 'home/alice/empty'), '');
    const file = path.join(top, 'small.zip');
    expect(await zip(root, ['home/alice/empty'], createWriteStream(file))).toEqual({ entries: 1, bytes: 0 });
    expect(await zipListing(file)).toEqual([expect.objectContaining({ name: 'empty', size: 0 })]);
    const fh = await open(path.join(root, 'big.img'), 'w');
    await fh.truncate(256 * 1024 ** 2);
    await fh.close();
    let written = 0;
    const gone = new Writable({
      write(c: Buffer, _e, cb): void {
        written += c.length;
        cb(written > 1024 ** 2 ? new Error('client went away') : null);
      },
    });
    await expect(zip(root, ['big.img', 'home'], gone, { level: 0 })).rejects.toThrow('client went away');
    expect(written).toBeLessThan(16 * 1024 ** 2);
  });

  it('zips a 1 GiB sparse file to a slow sink with flat memory', async () => {
    const { root } = await tree();
    const big = path.join(root, 'big.img');
    const fh = await open(big, 'w');
    await fh.truncate(1024 ** 3);
    await fh.close();
    const before = process.memoryUsage.rss();
    let peak = before;
    let written = 0;
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(c: Buffer, _e, cb): void {
        written += c.length;
        peak = Math.max(peak, process.memoryUsage.rss());
        setImmediate(cb); // slower than the source: backpressure has to hold
      },
    });
    const r = await zip(root, ['big.img'], sink, { level: 0 });
    expect(r).toEqual({ entries: 1, bytes: 1024 ** 3 });
    expect(written).toBeGreaterThan(1024 ** 3);
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
  }, 120_000);
});
