import { rm } from 'node:fs/promises';
import { M365RestoreNodeParamsSchema, type M365RestoreResult } from '../../../common/m365-tasks.js';
import { restoreDrive, type DriveRestoreProgress } from '../../cloud/drive-restore.js';
import type { TaskHandler, TaskRunContext, TaskRunResult } from '../task-handler.js';
import { destinationError, formatBytes, parseParams, plural, withRepository } from './destination-task.js';
import { cloudTaskError, m365WorkDir, type M365HandlerDeps } from './m365-backup.handler.js';
import { EXCHANGE_RESTORES, PART_ITEM } from './m365-parts.js';
import { withTenant } from './m365-tenant.js';

/** Failed files named in the task's warnings; beyond this many, a count says how many more. */
const NAMED_FAILURES = 50;

/**
 * M365_RESTORE: files and folders of one drive's backup point uploaded to a drive of the
 * same tenant (the original or another user's or library), or messages, events or contacts
 * of a user's backup written to a mailbox (the original or another user's), into a new
 * folder or to their original places. An item that fails is a warning naming it and the
 * others go on; the task fails when every item failed, or when signing in or reading the
 * backup fails.
 */
export function m365RestoreHandler(deps: M365HandlerDeps): TaskHandler {
  return {
    type: 'M365_RESTORE',
    async run(ctx: TaskRunContext): Promise<TaskRunResult> {
      const { target, params } = parseParams(ctx, deps, M365RestoreNodeParamsSchema);
      let result: M365RestoreResult;
      const noun = PART_ITEM[params.partKind];
      // Its own working copy: the one a backup of the same drive may be using is not shared.
      const workDir = `${m365WorkDir(ctx.stagingDir)}-restore-${ctx.taskId}`;
      try {
        result = await withTenant(params.tenant, deps.graph ?? {}, async (s) => {
          ctx.progress(0, null, 'signing in to Microsoft 365');
          await s.tokens.token();
          return withRepository(ctx, deps, target, (repo) => {
            const common = {
              graph: s.graph,
              repo,
              objectKey: params.objectKey,
              pointId: params.pointId,
              workDir,
              paths: params.paths,
              folder: params.folder,
              conflict: params.conflict,
              signal: ctx.signal,
              logger: ctx.logger,
              onProgress: (p: DriveRestoreProgress) => ctx.progress(p.doneBytes, p.totalBytes, `${p.doneFiles} of ${plural(p.totalFiles, noun)} restored to ${params.target.label}`),
            };
            const restoring =
              params.partKind === 'drive'
                ? restoreDrive({ ...common, target: { drivePath: `/drives/${params.target.driveId}`, owner: params.targetOwner, label: params.target.label } })
                : EXCHANGE_RESTORES[params.partKind]({ ...common, target: { userPath: `/users/${params.target.driveId}`, owner: params.targetOwner, label: params.target.label } });
            return restoring.catch((err: unknown) => {
              // Graph's refusals keep their own sentence rather than being blamed on the destination.
              throw cloudTaskError(ctx, deps.nodeName, err);
            });
          });
        });
      } catch (err) {
        throw destinationError(ctx, target, cloudTaskError(ctx, deps.nodeName, err), 'restoring from the repository');
      } finally {
        await rm(workDir, { recursive: true, force: true }).catch((err: unknown) => ctx.logger.warn({ err, workDir }, 'removing the restore working copy failed'));
      }
      const warnings = result.failed.slice(0, NAMED_FAILURES).map((f) => `${f.path} was not restored: ${f.reason}`);
      if (result.failed.length > NAMED_FAILURES) warnings.push(`${result.failed.length - NAMED_FAILURES} more ${noun}s were not restored (the task's result lists them all)`);
      // Skipping what the target already has was asked for: said in the log, not a warning.
      if (result.skipped.length > 0) ctx.log('info', `${plural(result.skipped.length, noun)} skipped, ${params.target.label} already has ${result.skipped.length === 1 ? 'it' : 'them'}: ${result.skipped.slice(0, 5).map((f) => f.path).join(', ')}${result.skipped.length > 5 ? ', …' : ''}`);
      ctx.log(
        'info',
        `restored ${plural(result.restoredFiles, noun)} (${formatBytes(result.restoredBytes)}) and ${plural(result.restoredFolders, 'folder')} to ${result.targetRoot} on ${params.target.label}${result.failed.length ? `; ${plural(result.failed.length, noun)} failed` : ''}`,
      );
      if (result.failed.length > 0 && result.restoredFiles === 0 && result.skipped.length === 0) {
        return { failed: `none of the ${plural(result.failed.length, noun)} could be restored to ${params.target.label} on node ${deps.nodeName}: ${result.failed[0]!.reason}`, result, warnings };
      }
      return { result, warnings };
    },
  };
}
