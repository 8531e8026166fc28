/** A TaskRunContext built by hand (real AbortController, captured progress and log) and repositories with known backups. */
import { execFileSync } from 'node:child_process';
import pino from 'pino';
import type { TaskHandler, TaskRunContext, TaskRunResult } from '../../../node-service/agent/task-handler.js';
import type { DestinationHandlerDeps } from '../../../node-service/agent/handlers/destination.handlers.js';
import { Repository, type BackupManifest } from '../../../node-service/repository/index.js';
import { MIB, TEST_KDF, makeImage, memorySource, type Region } from '../../unit/repository/helpers.js';

export const NODE = 'store-1';
export const CHUNK = 256 * 1024;

export function handlerDeps(extra: Partial<DestinationHandlerDeps> = {}): DestinationHandlerDeps {
  return { nodeName: NODE, init: { kdf: TEST_KDF }, repository: { threads: 2 }, ...extra };
}

export interface Captured {
  progress: { bytesDone: number; bytesTotal: number | null; message: string | undefined }[];
  logs: { level: string; message: string }[];
  abort: AbortController;
}

let lastTaskId = 0;

export function makeContext(params: Record<string, unknown>, stagingDir = '/tmp'): { ctx: TaskRunContext; seen: Captured } {
  const seen: Captured = { progress: [], logs: [], abort: new AbortController() };
  const ctx: TaskRunContext = {
    taskId: ++lastTaskId,
    params,
    stagingDir,
    signal: seen.abort.signal,
    progress: (bytesDone, bytesTotal, message) => seen.progress.push({ bytesDone, bytesTotal, message }),
    log: (level, message) => seen.logs.push({ level, message }),
    logger: pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' }),
  };
  return { ctx, seen };
}

/** Runs a handler with the destination params the server would inject. */
export async function run(
  handler: TaskHandler,
  repoPath: string,
  own: Record<string, unknown>,
  password?: string,
): Promise<{ out: TaskRunResult; seen: Captured; ctx: TaskRunContext }> {
  const { ctx, seen } = makeContext({ destinationId: 7, repository: { path: repoPath, ...(password === undefined ? {} : { password }) }, ...own });
  const out = (await handler.run(ctx)) ?? {};
  return { out, seen, ctx };
}

/** Runs a handler that must fail; returns the error. */
export async function runFailing(handler: TaskHandler, repoPath: string, own: Record<string, unknown>, password?: string): Promise<Error & { code?: string }> {
  const { ctx } = makeContext({ destinationId: 7, repository: { path: repoPath, ...(password === undefined ? {} : { password }) }, ...own });
  return handler.run(ctx).then(
    () => new Error('expected the task to fail'),
    (e: unknown) => e as Error & { code?: string },
  );
}

/** Writes one backup of a 1 MiB disk (4 chunks of 256 KiB) built from `regions`. */
export async function writeBackup(repo: Repository, group: string, regions: Region[], source: Record<string, string> = {}): Promise<BackupManifest> {
  const img = makeImage(MIB, regions);
  const w = await repo.startBackup({ group, source: { vm: group, ...source } });
  await w.writeDisk('vda', img.length, memorySource(img));
  return w.commit();
}

export function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: 'pipe' });
}

export function umount(dir: string): void {
  execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
}
