/**
 * A backup's chunk files are durable before its manifest names them (FORMAT.md "Writing a
 * backup"): watched with strace in a child process, as the kernel sees it. With `sync -f`
 * the chunk files get no fdatasync of their own and one syncfs flushes them all before the
 * manifest's rename; without it (NodeFileSystem `syncfs: false`) each file is fdatasynced.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../../node-service/repository/index.js';
import { KIB, MIB, TempDirs, readAll } from '../../unit/repository/helpers.js';
import { ChildRepository } from './child-process.js';

const SCRIPT = `
import { NodeFileSystem, Repository, openFileSource } from './node-service/repository/index.js';
const [repoPath, image, syncfs] = process.argv.slice(2);
const repo = await Repository.open(repoPath, {}, { fs: new NodeFileSystem({ syncfs: syncfs === 'yes' }) });
const src = await openFileSource(image);
const w = await repo.startBackup({ id: 'b-' + syncfs, group: 'durability' });
await w.writeDisk('vda', src.size, src.source);
await w.commit();
await src.close();
await repo.close();
`;

const dirs = new TempDirs();
let child: ChildRepository;
beforeAll(async () => {
  child = await ChildRepository.build();
  await child.addScript('durability-backup.mjs', SCRIPT);
}, 120_000);
afterAll(async () => {
  await child?.cleanup();
  await dirs.cleanup();
});

interface Traced {
  /** Syscalls in completion order: name and the path it names (rename: the target). */
  calls: { name: string; target: string }[];
  chunkFiles: number;
}

async function tracedBackup(syncfs: 'yes' | 'no'): Promise<{ traced: Traced; repoPath: string; img: Buffer }> {
  const root = await dirs.make();
  const repoPath = path.join(root, 'repo');
  await (await Repository.init(repoPath, { chunkSize: 256 * KIB })).close();
  const img = randomBytes(3 * MIB + 100 * KIB); // 13 chunks, none alike
  const image = path.join(root, 'vda.raw');
  await writeFile(image, img);
  const log = path.join(root, 'strace.log');
  // -y: a descriptor is printed with its path, so an fdatasync names its file.
  await promisify(execFile)('strace', ['-f', '-qq', '-y', '-o', log, '-e', 'trace=fdatasync,fsync,syncfs,rename,renameat,renameat2', '-e', 'signal=none', process.execPath, child.scriptPath('durability-backup.mjs'), repoPath, image, syncfs], { maxBuffer: 16 * MIB });
  const calls: Traced['calls'] = [];
  const call = (name: string, args: string) => ({ name, target: [...args.matchAll(/"([^"]*)"|<([^>]*)>/g)].map((p) => p[1] ?? p[2]!).at(-1) ?? '' });
  // A call another thread interrupts is split: "<unfinished ...>", later "<... name resumed>".
  const pending = new Map<string, Traced['calls'][number]>();
  for (const line of (await readFile(log, 'utf8')).split('\n')) {
    const started = /^(\d+)\s+(\w+)\((.*?)\s*<unfinished \.\.\.>$/.exec(line);
    if (started) pending.set(started[1]!, call(started[2]!, started[3]!));
    const resumed = /^(\d+)\s+<\.\.\. \w+ resumed>.*=\s+0$/.exec(line);
    if (resumed && pending.has(resumed[1]!)) calls.push(pending.get(resumed[1]!)!);
    const whole = /^\d+\s+(\w+)\((.*)\)\s+=\s+0$/.exec(line);
    if (whole) calls.push(call(whole[1]!, whole[2]!));
  }
  let chunkFiles = 0;
  for (const shard of await readdir(path.join(repoPath, 'chunks'))) chunkFiles += (await readdir(path.join(repoPath, 'chunks', shard))).length;
  return { traced: { calls, chunkFiles }, repoPath, img };
}

const isChunk = (p: string): boolean => /\/chunks\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(p) || /\/chunks\/[0-9a-f]{2}\/\.tmp-/.test(p);
const isManifest = (p: string): boolean => /\/backups\/[^/]+\.manifest$/.test(p);

describe('durability of a backup', () => {
  it('with syncfs: no fdatasync per chunk file, one syncfs after the last chunk and before the manifest; the backup restores', async () => {
    const { traced, repoPath, img } = await tracedBackup('yes');
    const { calls } = traced;
    expect(traced.chunkFiles).toBe(13);
    const chunkRenames = calls.flatMap((c, i) => (c.name.startsWith('rename') && isChunk(c.target) ? [i] : []));
    expect(chunkRenames.length).toBe(traced.chunkFiles);
    expect(calls.filter((c) => c.name === 'fdatasync' && isChunk(c.target))).toEqual([]);
    const syncfs = calls.flatMap((c, i) => (c.name === 'syncfs' ? [i] : []));
    expect(syncfs.length).toBe(1);
    const manifest = calls.findIndex((c) => c.name.startsWith('rename') && isManifest(c.target));
    expect(manifest).toBeGreaterThan(-1);
    expect(syncfs[0]!).toBeGreaterThan(Math.max(...chunkRenames));
    expect(manifest).toBeGreaterThan(syncfs[0]!);
    const repo = await Repository.open(repoPath);
    expect((await readAll((await repo.openBackup('b-yes')).readDisk('vda'))).equals(img)).toBe(true);
    await repo.close();
  });

  it('without syncfs: each chunk file is fdatasynced before its rename, and the manifest comes last', async () => {
    const { traced, repoPath, img } = await tracedBackup('no');
    const { calls } = traced;
    expect(traced.chunkFiles).toBe(13);
    expect(calls.some((c) => c.name === 'syncfs')).toBe(false);
    expect(calls.filter((c) => c.name === 'fdatasync' && isChunk(c.target)).length).toBe(traced.chunkFiles);
    const lastChunk = calls.findLastIndex((c) => c.name.startsWith('rename') && isChunk(c.target));
    expect(calls.findIndex((c) => c.name.startsWith('rename') && isManifest(c.target))).toBeGreaterThan(lastChunk);
    const repo = await Repository.open(repoPath);
    expect((await readAll((await repo.openBackup('b-no')).readDisk('vda'))).equals(img)).toBe(true);
    await repo.close();
  });
});
