import type { z } from 'zod';
import { VerifyRequestSchema, type VerifyResultSchema } from '../../../common/api/destinations.js';
import type { VerifyProblem, VerifyReport } from '../../repository/index.js';
import type { TaskHandler, TaskRunContext } from '../task-handler.js';
import { formatBytes, parseParams, plural, statsView, withRepository, type DestinationHandlerDeps } from './destination-task.js';
import { pointFailureClause, pointWarnings, pointsResult } from './verify-points.js';

type VerifyResult = z.infer<typeof VerifyResultSchema>;

/** Chunks checked at once: one per core of a small node, so verify does not starve backups. */
const PARALLELISM = 2;
/** Damage is reported in full in the result; warnings, logs and the error name this many at most. */
const MAX_LISTED_PROBLEMS = 100;
const MAX_LISTED_BACKUPS = 20;
/** Bounds the result when a whole chunk directory is lost (affectedBackups stays complete). */
const MAX_RESULT_PROBLEMS = 10_000;

/**
 * VERIFY: re-reads, decrypts, decompresses and re-hashes every chunk the backups reference
 * (or a rotating subset). Damage ends the task FAILED with a sentence naming the affected
 * backups, and the result still carries the full report.
 */
export function verifyHandler(deps: DestinationHandlerDeps): TaskHandler {
  return {
    type: 'VERIFY',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, VerifyRequestSchema);
      const subset = params.subset;
      return withRepository(ctx, deps, target, async (repo) => {
        ctx.log('info', subset ? `verifying part ${subset.part + 1} of ${subset.of} of the chunks in ${target.path}` : `verifying every chunk in ${target.path}`);
        const report = await repo.verify({
          parallelism: PARALLELISM,
          ...(subset ? { subset } : {}),
          signal: ctx.signal,
          onProgress: (p) => ctx.progress(p.bytesDone, p.bytesTotal, `${p.chunksDone} of ${p.chunksTotal} chunks checked`),
        });
        const stats = statsView(await repo.stats());
        const result: VerifyResult = {
          checkedChunks: report.chunksChecked,
          checkedBytes: report.bytesChecked,
          problems: report.problems.slice(0, MAX_RESULT_PROBLEMS).map((p) => ({ chunk: p.chunkId, problem: describeProblem(p), backups: p.backups, checkedNow: p.checkedNow })),
          affectedBackups: report.affectedBackups,
          backups: report.backups,
          damagedManifests: report.damagedManifests.map((m) => ({ backup: m.backupId, detail: m.detail.slice(0, 1000) })),
          healedChunks: report.healedChunks,
          subset: report.subset,
          ...(report.packs ? { points: pointsResult(report.packs) } : {}),
          stats,
        };
        const seconds = report.durationMs / 1000;
        const rate = seconds > 0 ? `, ${formatBytes(report.bytesChecked / seconds)}/s` : '';
        ctx.log('info', `checked ${plural(report.chunksChecked, 'chunk')} (${formatBytes(report.bytesChecked)}) of ${plural(report.backupsChecked, 'backup')} in ${seconds.toFixed(1)} s${rate}`);
        if (report.healedChunks > 0) ctx.log('info', `${plural(report.healedChunks, 'chunk')} found damaged earlier ${report.healedChunks === 1 ? 'is' : 'are'} intact again (re-stored by a later backup)`);
        if (report.ok) return { result };

        const warnings = [...problemWarnings(report), ...pointWarnings(report.packs)];
        for (const w of warnings) ctx.log('error', w);
        // Damage only in the packs of Microsoft 365 backup points: say that alone, not that VM backups are intact.
        const pointsClause = pointFailureClause(report.packs);
        const vmOk = report.problems.length === 0 && report.damagedManifests.length === 0;
        const failed = vmOk && pointsClause ? pointsClause : [failureSentence(report, stats.backups), pointsClause].filter((x) => x !== null).join('; ');
        return { failed, warnings, result };
      });
    },
  };
}

/** "corrupt: <what the decoder said>", without the library's advice to run verify. */
function describeProblem(p: VerifyProblem): string {
  const detail = p.detail.replace(/\s*Run verify to see which backups are affected\.?$/, '');
  return `${p.kind}: ${detail}`;
}

function listIds(ids: readonly string[], max = MAX_LISTED_BACKUPS): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} and ${ids.length - max} more`;
}

function problemWarnings(report: VerifyReport): string[] {
  const out = report.problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => {
    const used = p.backups.length > 0 ? `used by ${plural(p.backups.length, 'backup')}: ${listIds(p.backups)}` : 'used by no backup';
    const earlier = p.checkedNow ? '' : ' (found by an earlier verify; not in the part checked now)';
    return `chunk ${p.chunkId} is ${p.kind === 'missing' ? 'missing' : p.kind === 'corrupt' ? 'damaged' : 'unreadable'}${earlier}; ${used}`.slice(0, 2000);
  });
  if (report.problems.length > MAX_LISTED_PROBLEMS) out.push(`and ${report.problems.length - MAX_LISTED_PROBLEMS} more damaged chunks; the task result lists them`);
  for (const m of report.damagedManifests.slice(0, MAX_LISTED_PROBLEMS)) out.push(`the manifest of backup ${m.backupId} cannot be read: ${m.detail}`.slice(0, 2000));
  return out;
}

/** e.g. "3 damaged chunks affect backups A, B; the other 5 backups are intact". */
function failureSentence(report: VerifyReport, readableBackups: number): string {
  const parts: string[] = [];
  if (report.problems.length > 0) {
    const fromChunks = new Set(report.problems.flatMap((p) => p.backups));
    const ids = [...fromChunks].sort();
    const verb = report.problems.length === 1 ? 'affects' : 'affect';
    parts.push(
      ids.length > 0
        ? `${plural(report.problems.length, 'damaged chunk')} ${verb} ${ids.length === 1 ? 'backup' : 'backups'} ${listIds(ids)}`
        : `${plural(report.problems.length, 'damaged chunk')} found`,
    );
  }
  if (report.damagedManifests.length > 0) {
    const ids = report.damagedManifests.map((m) => m.backupId);
    parts.push(`the manifest${ids.length === 1 ? ' of backup' : 's of backups'} ${listIds(ids)} cannot be read`);
  }
  const total = readableBackups + report.damagedManifests.length;
  const others = Math.max(0, total - report.affectedBackups.length);
  const scope = report.subset ? ` in the part checked (${report.subset.part + 1} of ${report.subset.of})` : '';
  const tail = others === 0 ? 'no backup is intact' : `the other ${plural(others, 'backup')} ${others === 1 ? 'is' : 'are'} intact${scope}`;
  // A backup of the same data heals them: it stores the listed chunks again from the source.
  const advice = report.problems.length > 0 ? '. The next backup of the affected VMs stores the damaged chunks again (run one now), then verify again' : '';
  return `${parts.join('; ')}; ${tail}${advice}`.slice(0, 4000);
}
