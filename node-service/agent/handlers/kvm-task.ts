/**
 * What the KVM task handlers (INVENTORY_SYNC, EXPORT, STORE, RESTORE, IMPORT) share: their
 * dependencies, the exports open on this node, and turning platform failures into one
 * sentence an admin can act on.
 */
import { chmod, lstat, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import {
  ChildProcessRunner,
  ChildProcessStarter,
  currentProcess,
  KvmError,
  KvmExportRegistry,
  type CommandRunner,
  type ExportOwner,
  type ProcessStarter,
} from '../../platforms/kvm/index.js';
import { TaskError, type TaskRunContext } from '../task-handler.js';
import type { DestinationHandlerDeps } from './destination-task.js';

export interface KvmHandlerDeps extends DestinationHandlerDeps {
  /** NBD sockets and scratch files; default one of kvmWorkDirs(). QEMU's user must be able to traverse its parents. */
  workDir?: string;
  /** This node's runtime key (`nodeRuntimeKey`): names its work directories and its export records. */
  runtimeKey: string;
  /** Whom this node's export records name: this process under runtimeKey. */
  owner: ExportOwner;
  runner?: CommandRunner;
  starter?: ProcessStarter;
  /** Shared by EXPORT and STORE; one per node process. */
  registry: KvmExportRegistry;
}

export function withDefaults(deps: Partial<KvmHandlerDeps> & Pick<KvmHandlerDeps, 'nodeName'>): KvmHandlerDeps {
  const runtimeKey = deps.runtimeKey ?? `node-${deps.nodeName.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  return {
    ...deps,
    runtimeKey,
    owner: deps.owner ?? { node: runtimeKey, ...currentProcess() },
    runner: deps.runner ?? new ChildProcessRunner(),
    starter: deps.starter ?? new ChildProcessStarter(),
    registry: deps.registry ?? new KvmExportRegistry(),
  };
}

/**
 * Where exports keep their NBD sockets, scratch files and records: this node's own directory
 * (named by its runtime key, so nodes sharing a host never see each other's exports). QEMU
 * runs as another user and must reach them: `<stagingDir>/kvm-<key>` when every directory
 * above it lets others traverse, else `/var/tmp/vplus-kvm-<key>` (/var/tmp exists on every
 * Linux, on disk, and is world-traversable).
 */
export async function kvmWorkDir(ctx: TaskRunContext, deps: KvmHandlerDeps): Promise<string> {
  if (deps.workDir) return deps.workDir;
  const [preferred, fallback] = kvmWorkDirs(ctx.stagingDir, deps.runtimeKey);
  if (await othersCanTraverse(ctx.stagingDir)) return preferred;
  ctx.logger.debug({ stagingDir: ctx.stagingDir }, `QEMU cannot traverse the staging directory; NBD sockets go to ${fallback}`);
  return fallback;
}

export const FALLBACK_KVM_PARENT = '/var/tmp';

/** Both places this node's exports may live (preferred, fallback), for the recovery at node start. */
export function kvmWorkDirs(stagingDir: string, runtimeKey: string): [string, string] {
  return [path.join(stagingDir, `kvm-${runtimeKey}`), path.join(FALLBACK_KVM_PARENT, `vplus-kvm-${runtimeKey}`)];
}

async function othersCanTraverse(dir: string): Promise<boolean> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await stat(d).catch(() => null);
    if (st && (st.mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * Creates the work directory; 0711 so QEMU (another user) reaches the per-job directories
 * inside without listing them. It may sit in world-writable /var/tmp, so one that is a
 * symlink or belongs to another user is refused rather than used.
 */
export async function ensureWorkDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new TaskError(`the KVM work directory ${dir} is not a directory owned by the node's user; remove it and run the task again`, 'KVM_WORK_DIR');
  }
  await chmod(dir, 0o711);
  return dir;
}

/** Parses a task's own parameters (no repository); a bad parameter fails the task. */
export function parseOwn<S extends z.ZodType>(ctx: TaskRunContext, schema: S): z.output<S> {
  const r = schema.safeParse(ctx.params);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue ? `${issue.path.join('.') || 'params'}: ${issue.message}` : 'unknown problem';
  throw new TaskError(`the task's parameters are invalid (${where}); this is a server bug, please report it`, 'INVALID_PARAMS');
}

/**
 * Runs a KVM step: platform errors (their messages already say what failed and libvirt's or
 * QEMU's reason) become TaskErrors naming this node; a cancel passes through unchanged.
 */
export async function kvmStep<T>(ctx: TaskRunContext, deps: KvmHandlerDeps, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw kvmError(ctx, deps, err);
  }
}

export function kvmError(ctx: TaskRunContext, deps: KvmHandlerDeps, err: unknown): unknown {
  // A cancel surfaces wrapped (e.g. "reading disk vda failed: …cancelled"); report the cancel itself.
  if (ctx.signal.aborted) return ctx.signal.reason ?? err;
  if (err instanceof TaskError) return err;
  if (err instanceof KvmError) {
    if (err.code === 'KVM_CANCELLED') return err;
    return new TaskError(`${stripDot(err.message)} (on node ${deps.nodeName})`, err.code);
  }
  return err;
}

function stripDot(s: string): string {
  return s.replace(/\.$/, '');
}
