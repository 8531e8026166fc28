import type { z } from 'zod';
import {
  DestinationCheckResultSchema,
  GcResultSchema,
  PruneResultSchema,
  ReimportResultSchema,
  VerifyResultSchema,
  type RepositoryStatsView,
  type Task,
  type TaskType,
} from '../common/api/index.js';
import { formatBytes, formatRatio, formatTable, formatTimestamp } from './format.js';

/**
 * What a finished task found, for people: printed on stdout after `--wait`
 * (and `task wait`) reports the task's end, and under "Result:" by `task
 * show`. One small formatter per task type; a type without one prints
 * nothing extra. A result of an unexpected shape (a newer server) prints
 * nothing rather than something wrong.
 */
type ResultFormatter = (task: Task) => string | null;

const FORMATTERS: Partial<Record<TaskType, ResultFormatter>> = {
  DESTINATION_CHECK: parsed(DestinationCheckResultSchema, formatCheckResult),
  VERIFY: parsed(VerifyResultSchema, formatVerifyResult),
  PRUNE: parsed(PruneResultSchema, formatPruneResult),
  GC: parsed(GcResultSchema, formatGcResult),
  REIMPORT: parsed(ReimportResultSchema, formatReimportResult),
};

/** The task's result as lines for people, or null when its type has no formatter or it has no result. */
export function formatTaskResult(task: Task): string | null {
  if (!task.result) return null;
  return FORMATTERS[task.type]?.(task) ?? null;
}

function parsed<S extends z.ZodType>(schema: S, format: (result: z.output<S>, task: Task) => string): ResultFormatter {
  return (task) => {
    const result = schema.safeParse(task.result);
    return result.success ? format(result.data, task) : null;
  };
}

/** "destination:nas" → "nas"; null for a task about something else. */
export function destinationOf(task: Pick<Task, 'subject'>): string | null {
  return task.subject?.startsWith('destination:') ? task.subject.slice('destination:'.length) : null;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** "The destination now holds 2 backups: 12.0 MiB stored for 24.0 MiB of disks (dedup 1.8×, compression 1.1×)." */
export function formatStatsLine(stats: RepositoryStatsView): string {
  return (
    `The destination now holds ${plural(stats.backups, 'backup')}: ${formatBytes(stats.storedBytes)} stored for ` +
    `${formatBytes(stats.logicalBytes)} of disks (dedup ${formatRatio(stats.dedupRatio)}, compression ${formatRatio(stats.compressionRatio)}).`
  );
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function formatCheckResult(r: z.output<typeof DestinationCheckResultSchema>): string {
  const kind = r.encrypted ? 'an encrypted' : 'an unencrypted';
  const repo = r.created ? `Created ${kind} repository` : `Found ${kind} repository with ${plural(r.stats.backups, 'backup')}`;
  return `${repo}; ${formatBytes(r.freeBytes)} free of ${formatBytes(r.totalBytes)}.\n${formatStatsLine(r.stats)}`;
}

function formatVerifyResult(r: z.output<typeof VerifyResultSchema>, task: Task): string {
  const subset = task.params.subset as { part?: unknown; of?: unknown } | undefined;
  const scope =
    subset && typeof subset.part === 'number' && typeof subset.of === 'number' ? ` (part ${subset.part + 1} of ${subset.of})` : '';
  const checked = `Checked ${plural(r.checkedChunks, 'chunk')} (${formatBytes(r.checkedBytes)})${scope}`;
  const lines: string[] = [];
  if (r.problems.length === 0 && r.affectedBackups.length === 0) {
    lines.push(`${checked}: no problems found.`);
  } else {
    const verb = r.problems.length === 1 ? 'affects' : 'affect';
    lines.push(`${checked}: ${plural(r.problems.length, 'damaged chunk')} ${verb} ${plural(r.affectedBackups.length, 'backup')}.`);
    if (r.problems.length > 0) {
      lines.push('Damaged chunks → the backups that need them:');
      for (const p of r.problems) {
        const users = p.backups.length > 0 ? p.backups.join(', ') : 'no backup';
        lines.push(`  ${p.chunk} → ${users}  (${p.problem})`);
      }
    }
    if (r.affectedBackups.length > 0) lines.push(`Affected backups: ${r.affectedBackups.join(', ')}`);
  }
  lines.push(formatStatsLine(r.stats));
  return lines.join('\n');
}

function formatPruneResult(r: z.output<typeof PruneResultSchema>, task: Task): string {
  const lines: string[] = [
    r.dryRun
      ? `Dry run: would remove ${plural(r.removed.length, 'backup')} and keep ${r.kept.length}.`
      : `Removed ${plural(r.removed.length, 'backup')}, kept ${r.kept.length}.`,
  ];
  if (r.kept.length > 0) {
    lines.push(r.dryRun ? 'Would keep:' : 'Kept:');
    lines.push(indent(formatTable(['BACKUP', 'VM', 'CREATED', 'KEPT BY'], r.kept.map((b) => [b.id, b.group, formatTimestamp(b.createdAt), b.reasons.join(', ')]))));
  }
  if (r.removed.length > 0) {
    lines.push(r.dryRun ? 'Would remove:' : 'Removed:');
    lines.push(indent(formatTable(['BACKUP', 'VM', 'CREATED'], r.removed.map((b) => [b.id, b.group, formatTimestamp(b.createdAt)]))));
  }
  const name = destinationOf(task);
  if (r.dryRun) {
    lines.push('Nothing was removed (dry run).');
  } else if (r.removed.length > 0) {
    lines.push(`Garbage collection frees their space${name ? `: vplus destination gc ${name}` : ''}.`);
  }
  lines.push(formatStatsLine(r.stats));
  return lines.join('\n');
}

function formatGcResult(r: z.output<typeof GcResultSchema>): string {
  return `Removed ${plural(r.removedChunks, 'unreferenced chunk')}, freed ${formatBytes(r.freedBytes)}.\n${formatStatsLine(r.stats)}`;
}

function formatReimportResult(r: z.output<typeof ReimportResultSchema>, task: Task): string {
  const vms = new Set(r.backups.map((b) => b.group)).size;
  const bytes = r.backups.reduce((sum, b) => sum + b.logicalBytes, 0);
  const lines = [
    r.backups.length === 0
      ? 'Found no backups on the destination.'
      : `Found ${plural(r.backups.length, 'backup')} of ${plural(vms, 'VM')} (${formatBytes(bytes)} of disks) on the destination; they are added to the catalog.`,
  ];
  const name = destinationOf(task);
  if (r.backups.length > 0 && name) lines.push(`See them with: vplus backup list --destination ${name}`);
  lines.push(formatStatsLine(r.stats));
  return lines.join('\n');
}
