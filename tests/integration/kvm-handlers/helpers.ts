/** Calls KVM task handlers the way the node's task runner does: a TaskRunContext with a real AbortController, progress and log captured. */
import { spawn } from 'node:child_process';
import pino from 'pino';
import type { z } from 'zod';
import type { TaskHandler, TaskRunContext, TaskRunResult } from '../../../node-service/agent/task-handler.js';
import { identifyProcess, type ProcessIdentity } from '../../../node-service/platforms/kvm/index.js';

export interface Captured {
  progress: { bytesDone: number; bytesTotal: number | null; message: string | undefined }[];
  logs: { level: string; message: string }[];
  abort: AbortController;
}

let lastTaskId = 0;

export function makeContext(params: Record<string, unknown>, stagingDir: string, onProgress?: (seen: Captured) => void): { ctx: TaskRunContext; seen: Captured } {
  const seen: Captured = { progress: [], logs: [], abort: new AbortController() };
  const ctx: TaskRunContext = {
    taskId: ++lastTaskId,
    params,
    stagingDir,
    signal: seen.abort.signal,
    progress: (bytesDone, bytesTotal, message) => {
      seen.progress.push({ bytesDone, bytesTotal, message });
      onProgress?.(seen);
    },
    log: (level, message) => seen.logs.push({ level, message }),
    logger: pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' }),
  };
  return { ctx, seen };
}

export interface Outcome<R> {
  result: R;
  warnings: string[];
  seen: Captured;
}

/**
 * Runs a handler with params checked against the task's params schema first (what the server
 * sends) and its result checked against the result schema (what the server accepts).
 */
export async function runTask<P extends z.ZodType, R extends z.ZodType>(
  handler: TaskHandler,
  schemas: { params: P; result: R },
  params: z.input<P>,
  extra: Record<string, unknown>,
  stagingDir: string,
  onProgress?: (seen: Captured) => void,
): Promise<Outcome<z.output<R>>> {
  schemas.params.parse(params);
  const { ctx, seen } = makeContext({ ...(params as Record<string, unknown>), ...extra }, stagingDir, onProgress);
  const out: TaskRunResult = (await handler.run(ctx)) ?? {};
  if (out.failed !== undefined) throw new Error(`task failed: ${out.failed}`);
  return { result: schemas.result.parse(out.result), warnings: out.warnings ?? [], seen };
}

/** Runs a handler that must fail; returns the error. */
export async function runFailing(handler: TaskHandler, params: Record<string, unknown>, stagingDir: string, onProgress?: (seen: Captured) => void): Promise<Error & { code?: string }> {
  const { ctx } = makeContext(params, stagingDir, onProgress);
  return handler.run(ctx).then(
    () => new Error('expected the task to fail'),
    (e: unknown) => e as Error & { code?: string },
  );
}

/**
 * The identity of a process that has exited: the owner a killed node process leaves in its
 * export records (its pid is gone, or reused by a process with another start time).
 */
export async function deadProcess(): Promise<ProcessIdentity> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const identity = identifyProcess(child.pid!);
  child.kill('SIGKILL');
  await exited;
  if (!identity) throw new Error('cannot read /proc for a child process');
  return identity;
}
