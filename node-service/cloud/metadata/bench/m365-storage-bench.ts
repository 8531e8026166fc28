/**
 * `npm run bench -- m365-storage`: the storage side of Microsoft 365 backup alone (no Graph):
 * a OneDrive-like tree of many small files through the object store into an encrypted
 * repository on local disk — full backup, a 1 % incremental, restore of 1,000 files, verify,
 * GC after deleting the first point — and what content-defined chunking saves on an edited
 * zip-like file. Times include generating the files' content. Not part of the tests.
 *
 * Settings (environment):
 *   VPLUS_BENCH_M365_FILES  number of files (default 20000)
 *   VPLUS_BENCH_M365_MB     total size in MB, roughly (default 200)
 *   VPLUS_BENCH_DIR         where the repository goes (default: the OS temp dir)
 *   VPLUS_BENCH_KEEP=1      keep the work directory
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { Repository } from '../../../repository/index.js';
import { Cdc, fixedPieces, gearTable } from '../../../repository/packs/chunker.js';
import { openObjectStore, type ObjectStore } from '../index.js';

const MB = 1_000_000;
const MIB = 1024 * 1024;

/** xorshift32, so runs are comparable. */
class Rng {
  constructor(private s: number) {}
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
}

const WORDS = ['invoice', 'meeting', 'budget', 'draft', 'report', 'team', 'project', 'minutes', 'contract', 'offer', 'client', 'plan'];

/** Half text-like (compresses ~3×), half random (office files are zips), as a file share is. */
function fileContent(seed: number, size: number): Buffer {
  const r = new Rng(seed * 2654435761 || 1);
  const b = Buffer.allocUnsafe(size);
  if (seed % 2 === 0) {
    let o = 0;
    while (o < size) o += b.write(`${WORDS[r.int(WORDS.length)]} ${r.int(100000)} `, o);
  } else {
    for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE(r.next(), i);
    for (let i = size & ~3; i < size; i++) b[i] = r.next() & 0xff;
  }
  return b;
}

interface Spec {
  id: string;
  parent: string;
  name: string;
  size: number;
  seed: number;
}

/** Mostly small files (OneDrive-like): 90 % under 32 KB, 9 % up to 1 MB, 1 % up to 16 MB, scaled to the total. */
function makeTree(files: number, totalBytes: number): { folders: Spec[]; files: Spec[] } {
  const r = new Rng(7);
  const folders: Spec[] = [];
  for (let i = 0; i < Math.max(1, Math.floor(files / 100)); i++) folders.push({ id: `d${i}`, parent: i < 10 ? 'root' : `d${r.int(i)}`, name: `Folder ${i}`, size: 0, seed: 0 });
  const raw: number[] = [];
  for (let i = 0; i < files; i++) {
    const p = r.int(100);
    raw.push(p < 90 ? 200 + r.int(32_000) : p < 99 ? 32_000 + r.int(1_000_000) : 1_000_000 + r.int(15_000_000));
  }
  const scale = totalBytes / raw.reduce((a, b) => a + b, 0);
  const list = raw.map((s, i) => ({ id: `f${i}`, parent: folders[r.int(folders.length)]!.id, name: `${WORDS[i % WORDS.length]}-${i}.${i % 3 === 0 ? 'docx' : i % 3 === 1 ? 'xlsx' : 'txt'}`, size: Math.max(1, Math.round(s * scale)), seed: i + 1 }));
  return { folders, files: list };
}

async function filesUnder(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    files++;
    bytes += (await stat(path.join(e.parentPath, e.name))).size;
  }
  return { files, bytes };
}

async function destinationFiles(repoPath: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const d of ['packs', 'index', 'points', 'chunks', 'backups']) out[d] = (await filesUnder(path.join(repoPath, d))).files;
  return out;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

function row(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** New bytes an edit costs: a 1 KiB insertion in the middle of an 8 MiB zip-like file, CDC vs fixed 1 MiB pieces. */
async function chunkingComparison(): Promise<{ cdc: number; fixed: number }> {
  const members = Array.from({ length: 40 }, (_, i) => fileContent(2 * i + 1, 200 * 1024));
  const before = Buffer.concat(members);
  const edited = Buffer.concat([...members.slice(0, 20), randomBytes(1024), ...members.slice(20)]);
  const cdc = new Cdc(gearTable(randomBytes(32)));
  const cost = async (pieces: (b: Buffer) => AsyncIterable<Buffer> | Iterable<Buffer>): Promise<number> => {
    const seen = new Set<string>();
    for await (const p of pieces(before)) seen.add(createHash('sha256').update(p).digest('hex'));
    let added = 0;
    for await (const p of pieces(edited)) if (!seen.has(createHash('sha256').update(p).digest('hex'))) added += p.length;
    return added;
  };
  return { cdc: await cost((b) => cdc.splitBuffer(b)), fixed: await cost((b) => fixedPieces([b], MIB)) };
}

async function backup(store: ObjectStore, tree: { folders: Spec[]; files: Spec[] }, mode: 'full' | 'incremental', changed: Set<string> | null): Promise<{ pointId: string; summary: Record<string, number> }> {
  await store.beginPoint({ mode });
  if (mode === 'full') {
    store.upsertItem({ id: 'root', parentId: null, name: 'root', kind: 'folder' });
    for (const f of tree.folders) store.upsertItem({ id: f.id, parentId: f.parent, name: f.name, kind: 'folder' });
  }
  for (const f of tree.files) {
    if (changed && !changed.has(f.id)) continue;
    const content = await store.putContent(fileContent(f.seed, f.size));
    store.upsertItem({ id: f.id, parentId: f.parent, name: f.name, kind: 'file', content, modifiedAt: new Date(1_700_000_000_000 + f.seed * 1000).toISOString() });
  }
  const p = await store.commitPoint({ deltaLink: `delta-${Date.now()}` });
  return { pointId: p.id, summary: p.summary };
}

export async function runM365StorageBenchmark(): Promise<void> {
  const nFiles = Number(process.env.VPLUS_BENCH_M365_FILES ?? 20_000);
  const totalBytes = Number(process.env.VPLUS_BENCH_M365_MB ?? 200) * MB;
  const work = await mkdtemp(path.join(process.env.VPLUS_BENCH_DIR ?? tmpdir(), 'vplus-m365-bench-'));
  const repoPath = path.join(work, 'repo');
  const lines: string[] = [];
  const say = (s: string): void => {
    lines.push(s);
    process.stdout.write(`${s}\n`);
  };
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
  try {
    const tree = makeTree(nFiles, totalBytes);
    const logical = tree.files.reduce((a, f) => a + f.size, 0);
    const small = tree.files.filter((f) => f.size < 1_000_000).reduce((a, f) => a + f.size, 0);
    const repo = await Repository.init(repoPath, { password: 'bench-password', kdf: { N: 1024 } });
    const store = await openObjectStore(repo, 'm365:bench:drive:1', { workDir: path.join(work, 'node-work') });
    say(`# M365 storage bench: ${nFiles} files, ${(logical / MB).toFixed(0)} MB (${(small / MB).toFixed(0)} MB in files under 1 MB), encrypted, load ${loadavg()[0]!.toFixed(1)}`);
    say('');
    say(row(['step', 'time', 'rate', 'stored', 'destination files']));
    say(row(['---', '---', '---', '---', '---']));

    const full = await timed(() => backup(store, tree, 'full', null));
    const afterFull = await destinationFiles(repoPath);
    const fullStored = (await filesUnder(repoPath)).bytes;
    const filesFull = afterFull.packs! + afterFull.index! + afterFull.points!;
    say(row(['full backup', `${(full.ms / 1000).toFixed(1)} s`, `${(logical / MB / (full.ms / 1000)).toFixed(0)} MB/s, ${(nFiles / (full.ms / 1000)).toFixed(0)} files/s`, `${(fullStored / MB).toFixed(1)} MB`, `${filesFull} (packs ${afterFull.packs}, index ${afterFull.index}, points ${afterFull.points}): ${(filesFull / (small / (4 * MIB))).toFixed(2)} per 4 MiB of files under 1 MB (target ≤ 1)`]));

    // 1 % changed: edits of existing files (new content), as a delta would list them.
    const r = new Rng(99);
    const changed = new Set<string>();
    while (changed.size < Math.max(1, Math.floor(nFiles / 100))) changed.add(`f${r.int(nFiles)}`);
    for (const f of tree.files) if (changed.has(f.id)) f.seed += 1_000_000;
    const inc = await timed(() => backup(store, tree, 'incremental', changed));
    const afterInc = (await filesUnder(repoPath)).bytes;
    const incFiles = await destinationFiles(repoPath);
    const dbSize = (await repo.points().load(inc.value.pointId)).metadata.size;
    say(row(['incremental, 1 % edited', `${(inc.ms / 1000).toFixed(1)} s`, `${changed.size} files`, `+${((afterInc - fullStored) / MB).toFixed(2)} MB (of it metadata ${(inc.value.summary.newMetadataBytes! / MB).toFixed(2)} MB plain, of a ${(dbSize / MB).toFixed(1)} MB object log)`, `+${incFiles.packs! + incFiles.index! + incFiles.points! - filesFull}`]));

    const restoreIds = tree.files.slice(0, 1000);
    const restore = await timed(async () => {
      let bytes = 0;
      for (const f of restoreIds) for await (const b of store.readContent(inc.value.pointId, f.id)) bytes += b.length;
      return bytes;
    });
    say(row(['restore 1,000 files', `${(restore.ms / 1000).toFixed(1)} s`, `${(restore.value / MB / (restore.ms / 1000)).toFixed(0)} MB/s`, `${(restore.value / MB).toFixed(1)} MB read`, '-']));

    const verify = await timed(() => repo.verify());
    say(row(['verify', `${(verify.ms / 1000).toFixed(1)} s`, `${(verify.value.packs!.bytesChecked / MB / (verify.ms / 1000)).toFixed(0)} MB/s`, verify.value.ok ? 'ok' : 'DAMAGED', `${verify.value.packs!.packsChecked} packs`]));

    await repo.points().delete(full.value.pointId);
    const gc = await timed(() => repo.gc());
    const g = gc.value.packs!;
    say(row(['GC after deleting the full point', `${(gc.ms / 1000).toFixed(1)} s`, `${g.packsDeleted} deleted, ${g.packsRepacked} repacked into ${g.packsWritten}`, `freed ${(g.freedBytes / MB).toFixed(2)} MB`, `${g.packsAfter} packs`]));
    await store.close();
    await repo.close();

    const cmp = await chunkingComparison();
    say('');
    say(`Edited zip-like file (8 MiB, 1 KiB inserted in the middle): new bytes stored with content-defined chunking ${(cmp.cdc / MIB).toFixed(2)} MiB, with fixed 1 MiB pieces ${(cmp.fixed / MIB).toFixed(2)} MiB.`);
    say(`Peak RSS ${(peakRss / MIB).toFixed(0)} MiB.`);
  } finally {
    clearInterval(rssTimer);
    if (!process.env.VPLUS_BENCH_KEEP) await rm(work, { recursive: true, force: true });
  }
}
