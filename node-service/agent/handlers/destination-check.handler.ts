import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { DestinationCheckResultSchema } from '../../../common/api/destinations.js';
import { RepositoryError, type Repository } from '../../repository/index.js';
import { checkS3Destination, S3CheckError, type S3CheckResult } from '../../repository/s3/s3-check.js';
import type { S3Repository } from '../../../common/s3-location.js';
import { initRepository, openRepository } from '../repository-location.js';
import { TaskError, type TaskHandler, type TaskRunContext } from '../task-handler.js';
import { destinationError, formatBytes, parseParams, plural, repositoryDeps, statsView, type DestinationHandlerDeps, type DestinationTarget } from './destination-task.js';

const ParamsSchema = z.object({
  /** Create a repository when the directory is empty (or missing, under an existing parent). */
  create: z.boolean().default(false),
  /** S3 only (the form's Check): no repository under the prefix is an answer (`empty`), not a failure; nothing is created. */
  probe: z.boolean().default(false),
});

/** The repository's config file: its presence is what makes a directory a repository (FORMAT.md). */
const CONFIG_FILE = 'config.json';
const PROBE_PREFIX = '.vplus-probe-';
const PROBE_BYTES = 64 * 1024;
/** Below this, a warning: the next full backup will probably not fit. */
const LOW_SPACE_BYTES = 1024 ** 3;

/**
 * DESTINATION_CHECK: is this path on this node usable as a backup destination? It must exist
 * (or, with `create`, its parent must), be a directory, take a write that is fsynced, and
 * either hold a vPlus repository that opens with the given password, or be empty (then, with
 * `create`, a repository is initialised there). Reports free space and the repository's numbers.
 */
export function destinationCheckHandler(deps: DestinationHandlerDeps): TaskHandler {
  return {
    type: 'DESTINATION_CHECK',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, ParamsSchema);
      if (target.s3) return checkS3(ctx, deps, target, params.create, params.probe);
      const dir = target.path;
      ctx.log('info', `checking destination ${dir} on node ${target.node}${params.create ? ' (a repository is created if the directory is empty)' : ''}`);
      const madeDir = await ensureDirectory(ctx, target, params.create);
      let repo: Repository | undefined;
      let created = false;
      try {
        await probeWrite(ctx, target);
        const entries = await listEntries(ctx, target);
        if (entries.includes(CONFIG_FILE)) {
          repo = await openRepository(target, { password: target.password }, repositoryDeps(ctx, deps));
        } else if (entries.length > 0) {
          throw new TaskError(
            `destination ${dir} on node ${target.node} is not empty and holds no vPlus repository; choose an empty directory (for example a new subdirectory such as ${path.join(dir, 'vplus')})`,
            'DESTINATION_NOT_EMPTY',
          );
        } else if (!params.create) {
          throw new TaskError(`destination ${dir} on node ${target.node} holds no vPlus repository (the directory is empty); is the share mounted?`, 'DESTINATION_NO_REPOSITORY');
        } else {
          ctx.signal.throwIfAborted();
          repo = await initRepository(target, { ...deps.init, ...(target.password ? { password: target.password } : {}) }, repositoryDeps(ctx, deps)).catch(async (err: unknown) => {
            // A half-created layout would make the directory "not empty" for the next attempt.
            await removeContents(ctx.logger, dir, madeDir);
            throw err;
          });
          created = true;
        }
        const stats = statsView(await repo.stats());
        const space = await freeSpace(ctx, target);
        ctx.log(
          'info',
          created
            ? `created ${repo.encrypted ? 'an encrypted' : 'an unencrypted'} repository at ${dir}`
            : `found ${repo.encrypted ? 'an encrypted' : 'an unencrypted'} repository at ${dir} with ${plural(stats.backups, 'backup')} (${formatBytes(stats.storedBytes)} stored)`,
        );
        ctx.log('info', `${formatBytes(space.freeBytes)} free of ${formatBytes(space.totalBytes)}`);
        const warnings =
          space.totalBytes > 0 && space.freeBytes < LOW_SPACE_BYTES ? [`destination ${dir} on node ${target.node} has only ${formatBytes(space.freeBytes)} free`] : [];
        const result: z.infer<typeof DestinationCheckResultSchema> = { created, encrypted: repo.encrypted, ...space, stats };
        return { warnings, result };
      } catch (err) {
        if (madeDir && !created) await removeContents(ctx.logger, dir, true);
        throw destinationError(ctx, target, err, 'checking the destination');
      } finally {
        await repo?.close();
      }
    },
  };
}

/**
 * The store, in the order an admin fixes things (settings, DNS, TLS, keys, bucket, each
 * permission, object lock, what is at the prefix: repository/s3/s3-check.ts). `mayBeEmpty`:
 * an empty prefix is fine (a repository is to be created there); a repository found instead
 * is fine too, and is checked as an existing one.
 */
async function preflightS3(ctx: TaskRunContext, s3: S3Repository, mayBeEmpty: boolean): Promise<S3CheckResult> {
  try {
    return await checkS3Destination(s3, { create: mayBeEmpty, signal: ctx.signal });
  } catch (err) {
    if (mayBeEmpty && err instanceof S3CheckError && err.code === 'S3_REPOSITORY_EXISTS') return checkS3Destination(s3, { create: false, signal: ctx.signal });
    throw err;
  }
}

/**
 * DESTINATION_CHECK on a bucket: the store is checked step by step first, then the repository
 * under the prefix opens with the password, or (with `create`) the prefix is empty and a
 * repository is created there. Each failure names the bucket and the endpoint and says what
 * to fix. Free space is unknown (null).
 */
async function checkS3(ctx: TaskRunContext, deps: DestinationHandlerDeps, target: DestinationTarget, create: boolean, probe: boolean) {
  const where = target.path;
  const s3 = target.s3!;
  ctx.log('info', `checking destination ${where} from node ${target.node}${create ? ' (a repository is created if the prefix is empty)' : ''}`);
  let repo: Repository | undefined;
  let created = false;
  try {
    const found = await preflightS3(ctx, s3, create || probe);
    ctx.log('info', `reached ${found.endpoint} (${Math.round(found.latencyMs)} ms); the keys, the bucket and its permissions work${found.objectLock?.enabled ? '; the bucket has object lock' : ''}`);
    for (const warning of found.warnings) ctx.log('warn', warning);
    try {
      if (!found.repositoryExists) throw new RepositoryError('REPO_NOT_A_REPOSITORY', `there is no repository at ${where}`);
      repo = await openRepository(target, { password: target.password }, repositoryDeps(ctx, deps));
    } catch (err) {
      const missing = err instanceof RepositoryError && (err.code === 'REPO_NOT_A_REPOSITORY' || err.code === 'REPO_PATH_MISSING');
      if (missing && probe) {
        ctx.log('info', `reached ${where}: no repository there yet`);
        const empty: z.infer<typeof DestinationCheckResultSchema> = {
          created: false,
          empty: true,
          encrypted: false,
          freeBytes: null,
          totalBytes: null,
          stats: { backups: 0, logicalBytes: 0, storedBytes: 0, dedupRatio: null, compressionRatio: null },
        };
        return { warnings: [], result: empty };
      }
      if (!missing || !create) throw err;
      ctx.signal.throwIfAborted();
      repo = await initRepository(target, { ...deps.init, ...(target.password ? { password: target.password } : {}) }, repositoryDeps(ctx, deps));
      created = true;
    }
    const stats = statsView(await repo.stats());
    const kind = repo.encrypted ? 'an encrypted' : 'an unencrypted';
    ctx.log(
      'info',
      created ? `created ${kind} repository at ${where}` : `found ${kind} repository at ${where} with ${plural(stats.backups, 'backup')} (${formatBytes(stats.storedBytes)} stored)`,
    );
    const result: z.infer<typeof DestinationCheckResultSchema> = { created, encrypted: repo.encrypted, freeBytes: null, totalBytes: null, stats };
    return { warnings: found.warnings, result };
  } catch (err) {
    if (err instanceof S3CheckError && !ctx.signal.aborted) throw new TaskError(err.message, err.code);
    throw destinationError(ctx, target, err, 'checking the destination');
  } finally {
    await repo?.close();
  }
}

/** Exists and is a directory; with `create`, a missing directory is made under an existing parent. Returns whether it was made. */
async function ensureDirectory(ctx: TaskRunContext, target: DestinationTarget, create: boolean): Promise<boolean> {
  const dir = target.path;
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw destinationError(ctx, target, err, 'checking the destination');
    const parent = path.dirname(dir);
    // Never create missing parents: on an unmounted share that would fill the node's own disk.
    const parentSt = await fs.promises.stat(parent).catch(() => null);
    if (!parentSt?.isDirectory()) {
      throw new TaskError(`destination ${dir} does not exist on node ${target.node}; is the share mounted?`, 'DESTINATION_MISSING');
    }
    try {
      await fs.promises.mkdir(dir, { mode: 0o750 });
    } catch (mkErr) {
      throw destinationError(ctx, target, mkErr, 'creating the destination directory');
    }
    ctx.log('info', `created directory ${dir}`);
    return true;
  }
  if (!st.isDirectory()) throw new TaskError(`destination ${dir} on node ${target.node} is a file, not a directory; choose a directory`, 'DESTINATION_NOT_A_DIRECTORY');
  return false;
}

/** A real write that reaches the disk: create, write, fsync, remove. */
async function probeWrite(ctx: TaskRunContext, target: DestinationTarget): Promise<void> {
  const probe = path.join(target.path, `${PROBE_PREFIX}${randomBytes(6).toString('hex')}`);
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(probe, 'wx', 0o600);
    await fh.writeFile(randomBytes(PROBE_BYTES)); // loops over short writes, so a full disk shows as ENOSPC
    await fh.sync();
  } catch (err) {
    throw destinationError(ctx, target, err, 'writing a test file');
  } finally {
    // The data reached the disk (synced) or the failure is reported above: a close error adds nothing.
    await fh?.close().catch(() => undefined);
    // A probe left behind is removed by the next check (listEntries), but say so.
    await fs.promises.rm(probe, { force: true }).catch((err: unknown) => ctx.logger.warn({ err, file: probe }, 'could not remove the destination check\'s probe file'));
  }
}

/** The directory's entries, without probe files an interrupted check may have left. */
async function listEntries(ctx: TaskRunContext, target: DestinationTarget): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(target.path);
  } catch (err) {
    throw destinationError(ctx, target, err, 'listing the destination');
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith(PROBE_PREFIX)) await fs.promises.rm(path.join(target.path, name), { force: true });
    else out.push(name);
  }
  return out;
}

async function freeSpace(ctx: TaskRunContext, target: DestinationTarget): Promise<{ freeBytes: number; totalBytes: number }> {
  try {
    const s = await fs.promises.statfs(target.path);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch (err) {
    throw destinationError(ctx, target, err, 'measuring free space');
  }
}

/**
 * Undoes what this check created in a directory that was empty (or made by it). Best
 * effort after a failure that is reported anyway; what is left behind is logged.
 */
async function removeContents(logger: Logger, dir: string, removeDir: boolean): Promise<void> {
  const failed = (err: unknown): void => logger.warn({ err, dir }, 'could not undo what a failed destination check created');
  if (removeDir) {
    await fs.promises.rm(dir, { recursive: true, force: true }).catch(failed);
    return;
  }
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    return failed(err);
  }
  for (const name of names) await fs.promises.rm(path.join(dir, name), { recursive: true, force: true }).catch(failed);
}
