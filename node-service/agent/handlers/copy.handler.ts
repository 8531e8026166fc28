import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { CopyParamsSchema, type CopyResult } from '../../../common/copy-tasks.js';
import { RepositoryError, copyBackup, type CopyReport } from '../../repository/index.js';
import { TaskError, type TaskRunContext, type TaskHandler } from '../task-handler.js';
import { destinationError, formatBytes, plural, repoBackupOf, RepositoryParamsSchema, targetOf, withRepository, type DestinationHandlerDeps, type DestinationTarget } from './destination-task.js';

/** The server leaves out what it no longer has (a destination or the backup removed since the task was queued). */
const CopyTaskParamsSchema = CopyParamsSchema.extend({
  source: RepositoryParamsSchema.optional(),
  target: RepositoryParamsSchema.optional(),
  repoBackupId: z.string().min(1).optional(),
});

/**
 * COPY: copies one VM backup from the destination it is on to another one reachable from
 * this node, sending only the chunks the target lacks (repository/copy.ts). Resumable: a
 * cancelled or failed copy leaves what it sent, and the next run sends only the rest.
 */
export function copyHandler(deps: DestinationHandlerDeps): TaskHandler {
  return {
    type: 'COPY',
    async run(ctx: TaskRunContext) {
      const parsed = CopyTaskParamsSchema.safeParse(ctx.params);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue ? `${issue.path.join('.') || 'params'}: ${issue.message}` : 'unknown problem';
        throw new TaskError(`the task's parameters are invalid (${where}); this is a server bug, please report it`, 'INVALID_PARAMS');
      }
      const params = parsed.data;
      if (params.repoBackupId === undefined) throw new TaskError(`backup ${params.backupId} is no longer in the catalog (deleted since the copy was queued); there is nothing to copy`, 'BACKUP_NOT_FOUND');
      if (params.source === undefined) throw new TaskError(`the source destination (id ${params.sourceDestinationId}) no longer exists; there is nothing to copy`, 'DESTINATION_NOT_FOUND');
      if (params.target === undefined) throw new TaskError(`the target destination (id ${params.targetDestinationId}) no longer exists; choose another destination for the copy`, 'DESTINATION_NOT_FOUND');
      const source = targetOf(params.sourceDestinationId, params.source, deps.nodeName);
      const target = targetOf(params.targetDestinationId, params.target, deps.nodeName);
      const id = params.repoBackupId;

      // The source's threads only decode (cheap); the target's encode. Half for the source keeps
      // the copy's memory at a backup's (FORMAT.md "Copies").
      const threads = deps.repository?.threads ?? Math.min(8, availableParallelism());
      const sourceDeps: DestinationHandlerDeps = { ...deps, repository: { ...deps.repository, threads: Math.max(1, Math.floor(threads / 2)) } };

      return withRepository(ctx, sourceDeps, source, (from) =>
        withRepository(ctx, deps, target, async (to) => {
          ctx.log('info', `copying backup ${id} from ${source.path} to ${target.path}`);
          let report: CopyReport;
          try {
            report = await copyBackup(from, to, id, {
              signal: ctx.signal,
              onProgress: (p) => ctx.progress(p.bytesDone, p.bytesTotal, `${p.chunksDone} of ${plural(p.chunksTotal, 'chunk')} copied or already there`),
            });
          } catch (err) {
            throw copyError(ctx, source, target, id, err);
          }
          if (!report.created) {
            ctx.log('info', `${target.path} already holds backup ${id}; nothing to copy`);
          } else {
            const seconds = report.durationMs / 1000;
            const rate = seconds > 0 ? `, ${formatBytes(report.bytesSent / seconds)}/s` : '';
            const already = report.skippedChunks > 0 ? `; ${plural(report.skippedChunks, 'chunk')} ${report.skippedChunks === 1 ? 'was' : 'were'} already there` : '';
            ctx.log(
              'info',
              `copied backup ${id} (${formatBytes(report.logicalBytes)} of disks) to ${target.path}: sent ${plural(report.copiedChunks, 'chunk')} (${formatBytes(report.bytesSent)}) in ${seconds.toFixed(1)} s${rate}${already}`,
            );
            if (report.resumed) ctx.log('info', 'resumed an earlier interrupted copy of this backup');
          }
          const result: CopyResult = {
            repoBackupId: report.repoBackupId,
            chunks: report.chunks,
            copiedChunks: report.copiedChunks,
            skippedChunks: report.skippedChunks,
            bytesSent: report.bytesSent,
            logicalBytes: report.logicalBytes,
            resumed: report.resumed,
            created: report.created,
            backup: repoBackupOf(report.backup),
          };
          return { result };
        }),
      );
    },
  };
}

/**
 * One sentence naming the destination at fault: the source when the library's error is about
 * a file there (a damaged or missing chunk, the backup gone), the target otherwise.
 */
function copyError(ctx: TaskRunContext, source: DestinationTarget, target: DestinationTarget, id: string, err: unknown): unknown {
  if (ctx.signal.aborted || err instanceof TaskError) return err;
  const inSource = err instanceof RepositoryError && err.path !== undefined && isInside(err.path, source.path) && !isInside(err.path, target.path);
  if (err instanceof RepositoryError && inSource) {
    switch (err.code) {
      case 'CHUNK_MISSING':
      case 'CHUNK_CORRUPT':
        return new TaskError(
          `backup ${id} cannot be copied: ${err.message.replace(/\.?\s*Run verify to see which backups are affected\.?$/, '')} in destination ${source.path} on node ${source.node}; nothing damaged was copied. Verify that destination to see which backups are affected`,
          err.code,
        );
      case 'BACKUP_NOT_FOUND':
        return new TaskError(`backup ${id} is no longer in destination ${source.path} on node ${source.node} (pruned or deleted); there is nothing to copy`, err.code);
    }
  }
  if (err instanceof RepositoryError && err.code === 'REPO_GC_RACE') return new TaskError(err.message, err.code);
  return destinationError(ctx, inSource ? source : target, err, inSource ? 'reading the backup to copy' : 'writing the copy');
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
