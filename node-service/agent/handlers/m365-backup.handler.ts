import * as path from 'node:path';
import { M365BackupNodeParamsSchema, type M365BackupResult, type M365PointResult, type M365PointSource } from '../../../common/m365-tasks.js';
import { backupDrive, type DriveBackupProgress, type DriveBackupResult } from '../../cloud/drive-backup.js';
import { CloudError } from '../../cloud/graph/cloud-errors.js';
import type { GraphClientOptions } from '../../cloud/graph/graph-client.js';
import { Semaphore } from '../../cloud/graph/limits.js';
import { TaskError, type TaskHandler, type TaskRunContext, type TaskRunResult } from '../task-handler.js';
import { destinationError, formatBytes, parseParams, plural, withRepository, type DestinationHandlerDeps } from './destination-task.js';
import { EXCHANGE_BACKUPS, PART_ITEM } from './m365-parts.js';
import { withTenant } from './m365-tenant.js';

export interface M365HandlerDeps extends DestinationHandlerDeps {
  /** Graph client tuning (tests shorten the backoff). */
  graph?: GraphClientOptions;
  /** Pack target size (tests). */
  packSize?: number;
}

/**
 * Where the M365 handlers keep the working copies of the drives' metadata databases. Kept
 * between runs: a copy whose last point is still the newest makes the next incremental
 * cheap, and the library rebuilds a missing or stale one from the destination (it also
 * names the file by repository id and object, so destinations never share one).
 */
export function m365WorkDir(stagingDir: string): string {
  return path.join(stagingDir, 'm365-work');
}

/** A CloudError's sentence, tied to this node; a cancel or anything else passes through. */
export function cloudTaskError(ctx: TaskRunContext, nodeName: string, err: unknown): unknown {
  if (ctx.signal.aborted || !(err instanceof CloudError)) return err;
  return new TaskError(`${err.message} (on node ${nodeName})`, err.code);
}

/**
 * M365_BACKUP: one backup point per part of the subject (a user's OneDrive, mail, calendars
 * and contacts; a site's libraries), each tagged with the run id in its manifest so the run
 * can be regrouped from the destination alone. A part that fails as a whole is a warning
 * naming it and the others go on; a user found to have no mailbox after all has their
 * Exchange parts skipped (said in the log). The task fails only when no part could be backed
 * up, or when signing in fails.
 */
export function m365BackupHandler(deps: M365HandlerDeps): TaskHandler {
  // One backup of a drive at a time on this node: its metadata working copy is not locked.
  const drives = new Map<string, Semaphore>();
  const driveLock = (repoPath: string, objectKey: string): Semaphore => {
    const key = `${repoPath}\n${objectKey}`;
    let lock = drives.get(key);
    if (!lock) drives.set(key, (lock = new Semaphore(1)));
    return lock;
  };
  return {
    type: 'M365_BACKUP',
    async run(ctx: TaskRunContext): Promise<TaskRunResult> {
      const { target, params } = parseParams(ctx, deps, M365BackupNodeParamsSchema);
      const warnings: string[] = [];
      const result: M365BackupResult = { runId: params.runId, points: [] };
      const failedParts: string[] = [];
      const skippedParts: string[] = [];
      try {
        await withTenant(params.tenant, deps.graph ?? {}, async (s) => {
          // Sign in first: a wrong credential is one clear failure, not one per part.
          ctx.progress(0, null, 'signing in to Microsoft 365');
          await s.tokens.token();
          await withRepository(ctx, deps, target, async (repo) => {
            let bytesBefore = 0;
            for (const [i, part] of params.parts.entries()) {
              ctx.signal.throwIfAborted();
              const source: M365PointSource = {
                runId: params.runId,
                directory: params.tenant.tenantId,
                subject: { kind: params.subject.kind, graphId: params.subjectGraphId, name: params.subjectName },
                part: part.name,
                partKind: part.kind,
                driveId: part.driveId,
              };
              const step = `${part.label} (${i + 1} of ${params.parts.length})`;
              const noun = PART_ITEM[part.kind];
              // The total (and so an ETA) is known once every change was listed: what is queued then is all there is.
              const onProgress = (p: DriveBackupProgress): void =>
                ctx.progress(
                  bytesBefore + p.downloadedBytes,
                  p.enumerated ? bytesBefore + partTotal(p) : null,
                  `${step}: ${plural(p.items, 'item')} listed${p.enumerated ? '' : ' so far'}, ${p.downloadedFiles} of ${plural(p.queuedFiles, `changed ${noun}`)} downloaded`,
                );
              ctx.progress(bytesBefore, null, `${step}: reading the changes`);
              const release = await driveLock(target.path, part.objectKey).acquire(ctx.signal);
              try {
                const common = {
                  graph: s.graph,
                  repo,
                  objectKey: part.objectKey,
                  owner: params.subjectGraphId,
                  label: part.label,
                  workDir: m365WorkDir(ctx.stagingDir),
                  full: params.full,
                  source,
                  signal: ctx.signal,
                  logger: ctx.logger.child({ part: part.name }),
                  onProgress,
                  ...(deps.packSize ? { packSize: deps.packSize } : {}),
                };
                const r: DriveBackupResult =
                  part.kind === 'drive'
                    ? await backupDrive({ ...common, drivePath: `/drives/${part.driveId}` })
                    : await EXCHANGE_BACKUPS[part.kind]({ ...common, userPath: `/users/${part.driveId}` });
                bytesBefore += r.downloadedBytes;
                warnings.push(...r.warnings.map((w) => `${part.label}: ${w}`));
                const { warnings: _w, newStoredBytes, ...counts } = r;
                const point: M365PointResult = { part: part.name, partKind: part.kind, objectKey: part.objectKey, driveId: part.driveId, ...counts, storedBytes: newStoredBytes };
                result.points.push(point);
                ctx.log(
                  'info',
                  `${part.label}: ${r.kind} point ${r.pointId}${r.resynced ? ' (the change token had expired: compared in full)' : ''}, ${plural(r.files, noun)} (${formatBytes(r.bytes)}), ${r.added} added, ${r.changed} changed, ${r.removed} removed, ${plural(r.downloadedFiles, noun)} downloaded (${formatBytes(r.downloadedBytes)})${r.warnings.length ? `, ${plural(r.warnings.length, 'item')} not backed up` : ''}`,
                );
              } catch (err) {
                // Only Graph's refusals are the part's own; a repository failure ends the run.
                if (ctx.signal.aborted || !(err instanceof CloudError)) throw err;
                if (err.code === 'M365_NO_MAILBOX') {
                  // The inventory said there was a mailbox; Exchange says there is none (now): nothing to keep.
                  const line = `${part.label} skipped: ${params.subjectName} has no Exchange Online mailbox (any more); the next sync of the tenant notes it`;
                  skippedParts.push(line);
                  ctx.log('info', line);
                  continue;
                }
                const warning = `${part.label} was not backed up: ${err.message}`;
                warnings.push(warning);
                failedParts.push(warning);
                ctx.log('warn', warning);
              } finally {
                release();
              }
            }
          });
        });
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        const e = destinationError(ctx, target, cloudTaskError(ctx, deps.nodeName, err), 'backing up to the repository');
        // Points already committed stay on the destination: the server records them with the failure.
        if (result.points.length > 0) return { failed: (e as Error).message, result, warnings };
        throw e;
      }
      if (result.points.length === 0) {
        return { failed: `${params.subject.kind === 'site' ? 'no drive of' : 'nothing of'} ${params.subjectName} could be backed up on node ${deps.nodeName}: ${[...failedParts, ...skippedParts].join('; ')}`, result, warnings };
      }
      return { result, warnings };
    },
  };
}

/**
 * What a part downloads in all, once every change was listed. Drives list each file's size;
 * Graph lists no size for a message (delta takes no $expand), so a mailbox's total is
 * estimated from the messages downloaded so far, which gives the bar and its ETA a figure
 * that settles as the backup goes.
 */
export function partTotal(p: DriveBackupProgress): number {
  if (p.queuedBytes > 0 || p.queuedFiles === 0) return Math.max(p.queuedBytes, p.downloadedBytes);
  if (p.downloadedFiles === 0) return p.downloadedBytes;
  return Math.max(p.downloadedBytes, Math.round((p.downloadedBytes / p.downloadedFiles) * p.queuedFiles));
}
