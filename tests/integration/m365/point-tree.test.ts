/**
 * A backup point's tree with names no drive should hold ('..', '.', '', 'a/b', a NUL): the
 * names come from the backup and are not trusted, so listings show them made safe and a
 * restore of the tree (tar, extracted by the confined code) lands every file inside the
 * target directory and nowhere else.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openObjectStore, type ObjectStore } from '../../../node-service/cloud/metadata/index.js';
import { PointTree, safeName } from '../../../node-service/cloud/point-tree.js';
import { extractTar, tarEntries } from '../../../node-service/mount/tar-transfer.js';
import { Repository } from '../../../node-service/repository/index.js';
import { TEST_KDF, TempDirs } from '../../unit/repository/helpers.js';

const dirs = new TempDirs();
let base: string;
let repo: Repository;
let store: ObjectStore;
let tree: PointTree;

beforeAll(async () => {
  base = await dirs.make('vplus-point-tree-');
  repo = await Repository.init(path.join(base, 'repo'), { password: 'pw', kdf: TEST_KDF }, { threads: 1 });
  store = await openObjectStore(repo, 'm365:t1:drive:hostile', { workDir: path.join(base, 'work') });
  await store.beginPoint({ mode: 'full' });
  store.upsertItem({ id: 'root', parentId: null, name: '', kind: 'folder' });
  store.upsertItem({ id: 'up', parentId: 'root', name: '..', kind: 'folder' });
  const names = { f1: 'passwd', f2: '../../escape.txt', f3: '.', f4: 'a\\b', f5: 'nul\0x' };
  for (const [id, name] of Object.entries(names)) {
    const bytes = Buffer.from(`content of ${id}`);
    store.upsertItem({ id, parentId: id === 'f1' ? 'up' : 'root', name, kind: 'file', content: await store.putContent(bytes), size: bytes.length });
  }
  const point = await store.commitPoint({});
  tree = new PointTree(store, point.id, 'drive', new Date(point.createdAt));
});

afterAll(async () => {
  await store?.close();
  await repo?.close();
  await dirs.cleanup();
});

describe('a backup point with hostile names', () => {
  it('makes each name one safe path component', () => {
    expect(['..', '.', '', 'a/b', 'a\\b', 'nul\0x', 'fine.txt'].map(safeName)).toEqual(['_..', '_.', '_', 'a_b', 'a_b', 'nul_x', 'fine.txt']);
  });

  it('lists the names made safe', async () => {
    const root = await tree.list('', { offset: 0, limit: 10, sort: 'name', order: 'asc' });
    expect(root.entries.map((e) => [e.name, e.type]).sort()).toEqual([
      ['_.', 'file'],
      ['_..', 'dir'],
      ['a_b', 'file'],
      ['nul_x', 'file'],
      ['.._.._escape.txt', 'file'],
    ].sort());
  });

  it('restores the whole tree inside the target directory only', async () => {
    const dest = path.join(base, 'restore', 'inner');
    await mkdir(dest, { recursive: true });
    const pipe = new PassThrough();
    const sent = tarEntries(await tree.selection(['']), pipe);
    const [r] = await Promise.all([extractTar(pipe, dest, { overwrite: false }), sent]);
    expect(r.entriesDone).toBe(6);
    expect((await readdir(dest)).sort()).toEqual(['.._.._escape.txt', '_.', '_..', 'a_b', 'nul_x'].sort());
    expect(await readFile(path.join(dest, '_..', 'passwd'), 'utf8')).toBe('content of f1');
    // Nothing beside or above it.
    expect(await readdir(path.join(base, 'restore'))).toEqual(['inner']);
    expect((await readdir(base)).sort()).toEqual(['repo', 'restore', 'work']);
  });
});
