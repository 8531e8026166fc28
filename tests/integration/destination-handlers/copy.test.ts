/** COPY through the node's task runner: real repositories in temp directories, the handler the node registers. */
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ReimportResultSchema } from '../../../common/api/destinations.js';
import { CopyResultSchema } from '../../../common/copy-tasks.js';
import { NodeToServerSchema, type NodeToServer } from '../../../common/node-protocol.js';
import { destinationHandlers } from '../../../node-service/agent/handlers/destination.handlers.js';
import { reimportHandler } from '../../../node-service/agent/handlers/reimport.handler.js';
import { TaskRunner } from '../../../node-service/agent/task-runner.js';
import { chunkRelPath } from '../../../node-service/repository/format.js';
import { Repository, type BackupManifest } from '../../../node-service/repository/index.js';
import { MIB, TEST_KDF, TempDirs, makeImage, memorySource, readAll } from '../../unit/repository/helpers.js';
import { CHUNK, NODE, handlerDeps, run } from './helpers.js';

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

type Finished = Extract<NodeToServer, { type: 'task.finished' }>;
type Progress = Extract<NodeToServer, { type: 'task.progress' }>;

let nextTaskId = 100;

/** The node's task runner with its destination handlers; collects what it sends the server. */
function node(onProgress?: (m: Progress, r: TaskRunner) => void) {
  const sent: NodeToServer[] = [];
  const waiters = new Map<number, (m: Finished) => void>();
  const runner: TaskRunner = new TaskRunner({
    stagingDir: '/tmp',
    handlers: destinationHandlers(handlerDeps()),
    logger: pino({ level: 'silent' }),
    progressIntervalMs: 0,
    send: (m) => {
      sent.push(NodeToServerSchema.parse(m)); // what the server would accept
      if (m.type === 'task.progress') onProgress?.(m, runner);
      if (m.type === 'task.finished') waiters.get(m.taskId)?.(m);
    },
  });
  const copy = (params: Record<string, unknown>) => {
    const id = ++nextTaskId;
    return {
      id,
      done: new Promise<Finished>((resolve) => {
        waiters.set(id, resolve);
        runner.start({ id, type: 'COPY', params, attempt: 1 });
      }),
    };
  };
  return { sent, copy, runner };
}

async function repoWithBackup(password: string): Promise<{ dir: string; m: BackupManifest; img: Buffer }> {
  const dir = path.join(await dirs.make('vplus-copy-task-'), 'repo');
  const repo = await Repository.init(dir, { chunkSize: CHUNK, kdf: TEST_KDF, password }, { threads: 2 });
  try {
    const img = makeImage(8 * MIB, [
      { kind: 'random', offset: 0, length: 6 * MIB, seed: 7 },
      { kind: 'text', offset: 7 * MIB, length: MIB, seed: 8 },
    ]);
    const w = await repo.startBackup({ group: 'vm:web', source: { vm: 'web', name: 'web-1' } });
    await w.writeDisk('vda', img.length, memorySource(img));
    return { dir, m: await w.commit(), img };
  } finally {
    await repo.close();
  }
}

async function emptyRepo(password: string): Promise<string> {
  const dir = path.join(await dirs.make('vplus-copy-task-'), 'repo');
  await (await Repository.init(dir, { chunkSize: CHUNK, kdf: TEST_KDF, password })).close();
  return dir;
}

const params = (m: BackupManifest, source: { path: string; password?: string }, target: { path: string; password?: string }) => ({
  backupId: 41,
  sourceDestinationId: 1,
  targetDestinationId: 2,
  repoBackupId: m.id,
  source,
  target,
});

describe('COPY on the node', () => {
  it('copies a backup; the result carries the catalog entry REIMPORT makes from the target, and progress in bytes', async () => {
    const { dir: src, m, img } = await repoWithBackup('source pw');
    const dst = await emptyRepo('target pw');
    const { sent, copy } = node();
    const done = await copy(params(m, { path: src, password: 'source pw' }, { path: dst, password: 'target pw' })).done;
    expect(done).toMatchObject({ state: 'FINISHED', warnings: [] });
    const result = CopyResultSchema.parse(done.result);
    expect(result).toMatchObject({ repoBackupId: m.id, chunks: 28, copiedChunks: 28, skippedChunks: 0, resumed: false, created: true, logicalBytes: 8 * MIB });

    const { out } = await run(reimportHandler(handlerDeps()), dst, {}, 'target pw');
    const reimported = ReimportResultSchema.parse(out.result);
    expect(reimported.backups).toEqual([result.backup]);
    expect(result.backup).toMatchObject({ id: m.id, createdAt: m.createdAt, group: 'vm:web', source: { vm: 'web', name: 'web-1' } });

    const progress = sent.filter((s): s is Progress => s.type === 'task.progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toMatchObject({ bytesDone: 28 * CHUNK, bytesTotal: 28 * CHUNK, message: '28 of 28 chunks copied or already there' });
    const logs = sent.filter((s) => s.type === 'task.log').map((s) => (s as { message: string }).message);
    expect(logs.some((l) => l.startsWith(`copied backup ${m.id} (8.00 MiB of disks) to ${dst}: sent 28 chunks (`))).toBe(true);

    const repo = await Repository.open(dst, { password: 'target pw' }, { threads: 2 });
    try {
      expect((await readAll((await repo.openBackup(m.id)).readDisk('vda'))).equals(img)).toBe(true);
    } finally {
      await repo.close();
    }

    // Again: nothing to do.
    const again = await copy(params(m, { path: src, password: 'source pw' }, { path: dst, password: 'target pw' })).done;
    expect(CopyResultSchema.parse(again.result)).toMatchObject({ created: false, copiedChunks: 0, skippedChunks: 28, backup: result.backup });
  });

  it('a cancelled copy ends CANCELLED and the next one resumes it', async () => {
    const { dir: src, m } = await repoWithBackup('source pw');
    const dst = await emptyRepo('target pw');
    const { copy } = node((p, runner) => {
      if (p.bytesDone > 0) runner.cancel(p.taskId, false);
    });
    const first = await copy(params(m, { path: src, password: 'source pw' }, { path: dst, password: 'target pw' })).done;
    expect(first).toMatchObject({ state: 'CANCELLED' });
    const { copy: copyAgain } = node();
    const second = await copyAgain(params(m, { path: src, password: 'source pw' }, { path: dst, password: 'target pw' })).done;
    const result = CopyResultSchema.parse(second.result);
    expect(result).toMatchObject({ created: true, resumed: true, chunks: 28 });
    expect(result.skippedChunks).toBeGreaterThan(0);
    expect(result.copiedChunks).toBe(28 - result.skippedChunks);
  });

  it('failures name the destination at fault', async () => {
    const { dir: src, m } = await repoWithBackup('source pw');
    const dst = await emptyRepo('target pw');
    const { copy } = node();
    const fail = async (p: Record<string, unknown>) => (await copy(p).done) as Finished & { error: string };

    expect((await fail(params(m, { path: src, password: 'source pw' }, { path: dst, password: 'wrong' }))).error).toBe(`The password for the encrypted repository at ${dst} is wrong. Enter the password that was set when the destination was created.`);
    expect((await fail(params(m, { path: src, password: 'wrong' }, { path: dst, password: 'target pw' }))).error).toBe(`The password for the encrypted repository at ${src} is wrong. Enter the password that was set when the destination was created.`);
    const missing = path.join(dst, '..', 'not-mounted');
    expect((await fail(params(m, { path: src, password: 'source pw' }, { path: missing, password: 'x' }))).error).toBe(`destination ${path.resolve(missing)} does not exist on node ${NODE}; is the share mounted?`);
    expect((await fail({ ...params(m, { path: src, password: 'source pw' }, { path: dst, password: 'target pw' }), repoBackupId: '20200101T000000Z-0000000000' })).error).toBe(
      `backup 20200101T000000Z-0000000000 is no longer in destination ${src} on node ${NODE} (pruned or deleted); there is nothing to copy`,
    );
    const { repoBackupId: _gone, ...withoutBackup } = params(m, { path: src, password: 'source pw' }, { path: dst, password: 'target pw' });
    expect((await fail(withoutBackup)).error).toBe('backup 41 is no longer in the catalog (deleted since the copy was queued); there is nothing to copy');
    const { target: _removed, ...withoutTarget } = params(m, { path: src, password: 'source pw' }, { path: dst, password: 'target pw' });
    expect((await fail(withoutTarget)).error).toBe('the target destination (id 2) no longer exists; choose another destination for the copy');
    expect((await fail({ ...params(m, { path: src }, { path: dst }), source: { path: 'relative/dir' } })).error).toMatch(/^the task's parameters are invalid \(source\.path: the destination path must be absolute\)/);

    // A damaged chunk in the source: named, and the copy does not appear.
    const id = m.disks[0]!.chunks.find((c): c is string => typeof c === 'string')!;
    const file = path.join(src, chunkRelPath(id));
    const bytes = await readFile(file);
    bytes[30] = bytes[30]! ^ 0xff;
    await writeFile(file, bytes);
    const damaged = await fail(params(m, { path: src, password: 'source pw' }, { path: dst, password: 'target pw' }));
    expect(damaged.state).toBe('FAILED');
    expect(damaged.error).toMatch(new RegExp(`^backup ${m.id} cannot be copied: Chunk ${id} is damaged \\(.*\\) in destination ${src} on node ${NODE}; nothing damaged was copied`));
    const target = await Repository.open(dst, { password: 'target pw' }, { threads: 1 });
    try {
      expect(await target.listBackups()).toEqual([]);
    } finally {
      await target.close();
    }
  });
});
