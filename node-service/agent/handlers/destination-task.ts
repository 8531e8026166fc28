/**
 * What the destination task handlers (DESTINATION_CHECK, VERIFY, PRUNE, GC, REIMPORT) share:
 * their common parameters, opening the repository, turning failures into one sentence an
 * admin can act on (naming the path and this node), and the stats every result carries.
 */
import * as path from 'node:path';
import { z } from 'zod';
import type { RepoBackup, RepositoryStatsView } from '../../../common/api/destinations.js';
import { S3RepositorySchema, type S3Repository } from '../../../common/s3-location.js';
import { RepositoryError, type BackupInfo, type InitOptions, type Repository, type RepositoryDeps, type RepositoryStats } from '../../repository/index.js';
import { openRepository } from '../repository-location.js';
import { TaskError, type TaskRunContext } from '../task-handler.js';

export interface DestinationHandlerDeps {
  /** This node's name, for messages such as "… does not exist on node office-1". */
  nodeName: string;
  /** Repository library dependencies (worker threads, clock, filesystem); each task adds its own logger. */
  repository?: Omit<RepositoryDeps, 'logger'>;
  /** Settings for repositories this node creates (tests lower the scrypt cost). */
  init?: Pick<InitOptions, 'kdf' | 'chunkSize' | 'compressionLevel'>;
}

/**
 * Where a task's repository is, as the server sends it: a directory on this node (`path`), or
 * a bucket of an S3-compatible store (`s3`, with its credentials; `path` is then how the place
 * is shown, "s3://bucket/prefix at https://…"); with the decrypted password when encrypted.
 * Neither the password nor the secret key is ever logged.
 */
export const RepositoryParamsSchema = z
  .object({
    path: z.string().min(1),
    password: z.string().min(1).nullish(),
    s3: S3RepositorySchema.optional(),
  })
  .refine((r) => r.s3 !== undefined || path.isAbsolute(r.path), { path: ['path'], message: 'the destination path must be absolute' });

/** Injected by the server into every destination task at dispatch. */
export const DestinationTaskParamsSchema = z.object({
  destinationId: z.union([z.number().int(), z.string()]),
  repository: RepositoryParamsSchema,
});

export interface DestinationTarget {
  destinationId: number | string;
  /** The directory, or (S3) the place as shown to people. */
  path: string;
  password: string | undefined;
  /** S3 destinations: the bucket, prefix and credentials. */
  s3?: S3Repository;
  node: string;
}

/** A task's repository params as a target (COPY has two: `source` and `target`). */
export function targetOf(destinationId: number | string, repository: z.output<typeof RepositoryParamsSchema>, node: string): DestinationTarget {
  return {
    destinationId,
    path: repository.s3 ? repository.path : path.resolve(repository.path),
    password: repository.password ?? undefined,
    ...(repository.s3 ? { s3: repository.s3 } : {}),
    node,
  };
}

/** Parses the common parameters plus the task's own (`schema`); a bad parameter fails the task. */
export function parseParams<S extends z.ZodType>(ctx: TaskRunContext, deps: DestinationHandlerDeps, schema: S): { target: DestinationTarget; params: z.output<S> } {
  const common = DestinationTaskParamsSchema.safeParse(ctx.params);
  if (!common.success) throw invalidParams(common.error);
  const own = schema.safeParse(ctx.params);
  if (!own.success) throw invalidParams(own.error);
  const { destinationId, repository } = common.data;
  return { target: targetOf(destinationId, repository, deps.nodeName), params: own.data };
}

function invalidParams(error: z.ZodError): TaskError {
  const issue = error.issues[0];
  const where = issue ? `${issue.path.join('.') || 'params'}: ${issue.message}` : 'unknown problem';
  return new TaskError(`the task's parameters are invalid (${where}); this is a server bug, please report it`, 'INVALID_PARAMS');
}

export function repositoryDeps(ctx: TaskRunContext, deps: DestinationHandlerDeps): RepositoryDeps {
  return { ...deps.repository, logger: ctx.logger };
}

/** Opens the destination's repository, runs `fn`, and always closes it (stops its worker threads). */
export async function withRepository<T>(ctx: TaskRunContext, deps: DestinationHandlerDeps, target: DestinationTarget, fn: (repo: Repository) => Promise<T>): Promise<T> {
  ctx.signal.throwIfAborted();
  let repo: Repository;
  try {
    repo = await openRepository(target, { password: target.password }, repositoryDeps(ctx, deps));
  } catch (err) {
    throw destinationError(ctx, target, err, 'opening the repository');
  }
  try {
    return await fn(repo);
  } catch (err) {
    // The library names its own filesystem errors (REPO_…); a bare errno here comes from
    // something else the task used (an NBD socket, qemu-img) and must not be blamed on the path.
    throw destinationError(ctx, target, err, 'working on the repository', { bareErrnoIsDestination: false });
  } finally {
    await repo.close();
  }
}

const errnoOf = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;

/**
 * One sentence the admin can act on. A cancel passes through unchanged (the runner reports
 * it as CANCELLED); TaskErrors pass through; library and errno errors are rephrased to name
 * the destination and this node.
 */
export function destinationError(ctx: TaskRunContext, target: DestinationTarget, err: unknown, action: string, options: { bareErrnoIsDestination?: boolean } = {}): unknown {
  if (ctx.signal.aborted || err instanceof TaskError) return err;
  if (target.s3) return s3DestinationError(ctx, target, target.s3, err, action, options);
  const { path: p, node } = target;
  const code = err instanceof RepositoryError ? err.code : options.bareErrnoIsDestination === false ? undefined : errnoOf(err);
  switch (code) {
    case 'REPO_PATH_MISSING':
    case 'ENOENT':
      return new TaskError(`destination ${p} does not exist on node ${node}; is the share mounted?`, 'DESTINATION_MISSING');
    case 'ENOTDIR':
      return new TaskError(`destination ${p} on node ${node} is not a directory (a part of the path is a file); check the path`, 'DESTINATION_NOT_A_DIRECTORY');
    case 'REPO_NOT_A_REPOSITORY':
      return new TaskError(`destination ${p} on node ${node} holds no vPlus repository; is the share mounted, and is this the right path?`, 'DESTINATION_NO_REPOSITORY');
    case 'REPO_READ_ONLY':
    case 'EROFS':
      return new TaskError(`destination ${p} on node ${node} is read-only; remount it read-write`, 'DESTINATION_READ_ONLY');
    case 'REPO_NO_SPACE':
    case 'ENOSPC':
    case 'EDQUOT':
      return new TaskError(
        `destination ${p} on node ${node} is full; earlier backups are intact. Garbage-collect it (vplus destination gc <destination> --wait, or Destinations → Garbage collect) to free at once what failed and pruned backups left; prune old backups first if that is not enough, or choose a larger destination`,
        'DESTINATION_FULL',
      );
    case 'REPO_PERMISSION_DENIED':
    case 'EACCES':
    case 'EPERM':
      return new TaskError(`node ${node} may not write to destination ${p} (permission denied); give the node service's user read and write access to it`, 'DESTINATION_PERMISSION_DENIED');
  }
  // The library's other messages already say what to do (wrong password, busy, damaged config, ...).
  if (err instanceof RepositoryError) return new TaskError(err.message, err.code);
  ctx.logger.error({ err, destination: p, action }, 'destination task failed unexpectedly');
  return new TaskError(`${action} at ${p} on node ${node} failed: ${err instanceof Error ? err.message : String(err)}`, code ?? errnoOf(err) ?? 'DESTINATION_ERROR');
}

/**
 * destinationError for a bucket: names the bucket and the endpoint (there is no share to mount
 * and no directory to fix), and what to check for each kind of failure.
 */
function s3DestinationError(ctx: TaskRunContext, target: DestinationTarget, s3: S3Repository, err: unknown, action: string, options: { bareErrnoIsDestination?: boolean }): unknown {
  const { path: p, node } = target;
  const at = s3.endpoint ?? `AWS S3 (${s3.region})`;
  const where = `bucket ${s3.bucket}${s3.prefix ? ` (prefix ${s3.prefix})` : ''} at ${at}`;
  const code = err instanceof RepositoryError ? err.code : options.bareErrnoIsDestination === false ? undefined : errnoOf(err);
  switch (code) {
    case 'REPO_PATH_MISSING':
    case 'REPO_NOT_A_REPOSITORY':
      return new TaskError(`${where} holds no vPlus repository; is this the right bucket and prefix?`, 'DESTINATION_NO_REPOSITORY');
    case 'REPO_PERMISSION_DENIED':
      return new TaskError(`node ${node} may not use ${where} (access denied): ${err instanceof Error ? err.message : String(err)}; give the access key read, write, list and delete on the bucket`, 'DESTINATION_PERMISSION_DENIED');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new TaskError(`node ${node} cannot resolve the S3 endpoint ${at} (DNS); check the endpoint URL`, 'DESTINATION_UNREACHABLE');
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new TaskError(`node ${node} cannot reach the S3 endpoint ${at} (${code}); is the store running and the endpoint right?`, 'DESTINATION_UNREACHABLE');
  }
  // The library's S3 messages already name the bucket and what to do (credentials, lock, busy…).
  if (err instanceof RepositoryError) return new TaskError(err.message, err.code);
  ctx.logger.error({ err, destination: p, action }, 'destination task failed unexpectedly');
  return new TaskError(`${action} in ${where} from node ${node} failed: ${err instanceof Error ? err.message : String(err)}`, code ?? errnoOf(err) ?? 'DESTINATION_ERROR');
}

/**
 * The catalog's entry for a committed backup, made from its manifest: the one mapping STORE
 * and REIMPORT share (same createdAt, source and sizes whichever way a backup arrives).
 */
export function repoBackupOf(b: Pick<BackupInfo, 'id' | 'createdAt' | 'group' | 'source' | 'summary'> & { disks: readonly { name: string; size: number }[] }): RepoBackup {
  return {
    id: b.id,
    createdAt: b.createdAt,
    group: b.group,
    logicalBytes: b.summary.logicalBytes,
    storedBytes: b.summary.newStoredBytes,
    disks: b.disks.map((d) => ({ name: d.name, size: d.size })),
    source: b.source,
  };
}

/** Ratios are null while there is nothing to compare (an empty repository). */
export function statsView(s: RepositoryStats): RepositoryStatsView {
  const ratio = (value: number, defined: boolean): number | null => (defined && Number.isFinite(value) ? value : null);
  return {
    backups: s.backups,
    logicalBytes: s.logicalBytes,
    storedBytes: s.storedBytes,
    dedupRatio: ratio(s.dedupRatio, s.uniqueBytes > 0),
    compressionRatio: ratio(s.compressionRatio, s.referencedStoredBytes > 0),
  };
}

/** "3 backups" / "1 backup". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The handlers' log lines print sizes as the CLI and the UI do: one formatter, in common/. */
export { formatBytes } from '../../../common/format.js';
