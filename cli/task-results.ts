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
import { ExportResultSchema, ImportResultSchema, InventorySyncResultSchema, RestoreResultSchema, StoreResultSchema } from '../common/kvm-tasks.js';
import { M365BackupResultSchema, M365RestoreParamsSchema, M365RestoreResultSchema, M365SyncResultSchema, type M365BackupResult, type M365RestoreResult, type M365SyncResult } from '../common/m365-tasks.js';
import { CopyResultSchema } from '../common/copy-tasks.js';
import { FileRestoreResultSchema, MountResultSchema } from '../common/mount-tasks.js';
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
  COPY: parsed(CopyResultSchema, formatCopyResult),
  REIMPORT: parsed(ReimportResultSchema, formatReimportResult),
  INVENTORY_SYNC: parsed(InventorySyncResultSchema, formatInventoryResult),
  EXPORT: parsed(ExportResultSchema, formatExportResult),
  STORE: parsed(StoreResultSchema, formatStoreResult),
  RESTORE: parsed(RestoreResultSchema, formatRestoreResult),
  IMPORT: parsed(ImportResultSchema, formatImportResult),
  MOUNT: parsed(MountResultSchema, formatMountResult),
  FILE_RESTORE: parsed(FileRestoreResultSchema, formatFileRestoreResult),
  M365_SYNC: parsed(M365SyncResultSchema, formatM365SyncResult),
  M365_BACKUP: parsed(M365BackupResultSchema, formatM365BackupResult),
  M365_RESTORE: parsed(M365RestoreResultSchema, formatM365RestoreResult),
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
  return subjectOf(task, 'destination');
}

/** The name in a subject of that kind ("hypervisor:kvm1" → "kvm1"), or null. */
export function subjectOf(task: Pick<Task, 'subject'>, kind: 'destination' | 'hypervisor' | 'vm' | 'backup'): string | null {
  const prefix = `${kind}:`;
  return task.subject?.startsWith(prefix) ? task.subject.slice(prefix.length) : null;
}

/**
 * Warnings a task's result carries that its own list does not (an EXPORT
 * reports why it fell back to a full backup in both, normally): printed
 * with the task's warnings, so none is lost.
 */
export function resultWarnings(task: Task): string[] {
  if (task.type !== 'EXPORT' || !task.result) return [];
  const result = ExportResultSchema.safeParse(task.result);
  if (!result.success) return [];
  return result.data.warnings.filter((w) => !task.warnings.includes(w));
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
  const space = r.freeBytes !== null && r.totalBytes !== null ? `; ${formatBytes(r.freeBytes)} free of ${formatBytes(r.totalBytes)}` : '';
  return `${repo}${space}.\n${formatStatsLine(r.stats)}`;
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

function formatCopyResult(r: z.output<typeof CopyResultSchema>): string {
  if (!r.created) return `The destination held backup ${r.repoBackupId} already; nothing was sent.`;
  const chunks = r.chunks > 0 ? ` (${plural(r.copiedChunks, 'chunk')} sent, ${plural(r.skippedChunks, 'chunk')} the destination had already)` : '';
  return `Copied backup ${r.repoBackupId} (${formatBytes(r.logicalBytes)} of disks): ${formatBytes(r.bytesSent)} written to the destination${chunks}${r.resumed ? ', resuming an interrupted copy' : ''}.`;
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

// ---- KVM ---------------------------------------------------------------------------

/** "2 running, 1 shut off" */
function countStates(states: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const state of states) counts.set(state, (counts.get(state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
}

function formatInventoryResult(r: z.output<typeof InventorySyncResultSchema>, task: Task): string {
  const libvirt = r.libvirtVersion ? ` (libvirt ${r.libvirtVersion})` : '';
  const name = subjectOf(task, 'hypervisor');
  if (r.domains.length === 0) return `Found no VMs${libvirt}.`;
  const lines = [
    `Found ${plural(r.domains.length, 'VM')}${libvirt}: ${countStates(r.domains.map((d) => d.state))}.`,
    indent(
      formatTable(
        ['NAME', 'STATE', 'VCPUS', 'MEMORY', 'DISKS'],
        r.domains.map((d) => [
          d.name,
          d.state,
          String(d.vcpus),
          formatBytes(d.memoryBytes),
          d.disks.length === 0 ? '-' : d.disks.map((disk) => `${disk.target} ${formatBytes(disk.virtualBytes)}`).join(', '),
        ]),
      ),
    ),
  ];
  if (name) lines.push(`See them with: vplus vm list --hypervisor ${name}`);
  return lines.join('\n');
}

function diskTotal(disks: readonly { size: number }[]): number {
  return disks.reduce((sum, d) => sum + d.size, 0);
}

function formatExportResult(r: z.output<typeof ExportResultSchema>): string {
  return `Exported ${plural(r.disks.length, 'disk')} (${formatBytes(diskTotal(r.disks))}) for ${r.type === 'full' ? 'a full' : 'an incremental'} backup.`;
}

function formatStoreResult(r: z.output<typeof StoreResultSchema>, task: Task): string {
  const vm = subjectOf(task, 'vm');
  const lines = [
    `Stored ${r.type === 'full' ? 'a full' : 'an incremental'} backup${vm ? ` of ${vm}` : ''}: ` +
      `read ${formatBytes(r.bytesRead)} of ${formatBytes(r.logicalBytes)} of disks; backup ${r.backupId} in the repository.`,
  ];
  if (r.disks.length > 0) {
    lines.push(
      indent(
        formatTable(
          ['DISK', 'SIZE', 'CHANGED', 'READ'],
          r.disks.map((d) => [d.target, formatBytes(d.size), d.changedBytes === null ? '-' : formatBytes(d.changedBytes), formatBytes(d.bytesRead)]),
        ),
      ),
    );
  }
  if (!r.checkpoint) lines.push('There is no checkpoint to build on: the next backup of this VM is a full one.');
  return lines.join('\n');
}

function formatRestoreResult(r: z.output<typeof RestoreResultSchema>): string {
  const lines = [`Wrote ${plural(r.files.length, 'disk image')} (${formatBytes(diskTotal(r.files))}) to ${r.directory}:`];
  for (const f of r.files) lines.push(`  ${f.target} → ${f.path} (${f.format}, ${formatBytes(f.size)})`);
  if (r.domainXmlPath) lines.push(`  VM definition → ${r.domainXmlPath}`);
  return lines.join('\n');
}

function formatImportResult(r: z.output<typeof ImportResultSchema>): string {
  return `Defined the new VM ${r.name} (UUID ${r.uuid}); ${r.started ? 'it is running' : 'it is not started'}.`;
}

// ---- mounts ------------------------------------------------------------------------

const CLOSED_BY = { user: 'closed by a user', idle: 'closed after its idle timeout', node: 'closed as its node stopped' } as const;

function formatMountResult(r: z.output<typeof MountResultSchema>): string {
  const readable = r.filesystems.filter((f) => f.readable).length;
  return `The mount was ${CLOSED_BY[r.closedBy]}; it served ${plural(readable, 'browsable filesystem')} of ${r.filesystems.length} found.`;
}

function formatFileRestoreResult(r: z.output<typeof FileRestoreResultSchema>, task: Task): string {
  const on = task.node ? ` on node ${task.node}` : '';
  const lines = [`Restored ${plural(r.entries, 'entry', 'entries')} (${formatBytes(r.bytes)}) to ${r.directory}${on}.`];
  if (r.skipped.length > 0) {
    lines.push(`Left out ${plural(r.skipped.length, 'special file')} a plain directory cannot hold (devices, fifos, sockets):`);
    for (const p of r.skipped) lines.push(`  ${p}`);
  }
  return lines.join('\n');
}

/** "Found 3 users (2 with a OneDrive, 3 with a mailbox), 2 SharePoint sites with 3 document libraries." */
export function formatM365SyncResult(result: M365SyncResult): string {
  const users = result.users === null ? 'no users (not listed)' : `${plural(result.users.length, 'user')} (${result.users.filter((u) => u.driveId !== null).length} with a OneDrive, ${result.users.filter((u) => u.hasMailbox === true).length} with a mailbox)`;
  const libraries = result.sites?.reduce((n, s) => n + s.libraries.length, 0) ?? 0;
  const sites = result.sites === null ? 'no sites (not listed)' : `${plural(result.sites.length, 'SharePoint site')} with ${plural(libraries, 'document library', 'document libraries')}`;
  return `Found ${users}, ${sites}.`;
}

/**
 * "Backed up 2 drives: 120 items (100 files, 20 folders, 1.2 GiB); read 3 files (2.0 MiB), stored 1.1 MiB."
 * and a row per drive. A drive that failed as a whole has no point: the task's warnings say why.
 */
export function formatM365BackupResult(result: M365BackupResult): string {
  const points = result.points;
  // A user's backup has mail, calendars and contacts besides the OneDrive: "parts" then, whose files are messages, events, contacts.
  const drivesOnly = points.every((p) => p.partKind === 'drive');
  const part = drivesOnly ? 'drive' : 'part';
  if (points.length === 0) return 'Nothing was backed up; the warnings above say why.';
  const sum = (pick: (p: M365BackupResult['points'][number]) => number): number => points.reduce((n, p) => n + pick(p), 0);
  const files = drivesOnly ? plural(sum((p) => p.files), 'file') : `${sum((p) => p.files)} files, messages, events and contacts`;
  const read = drivesOnly ? plural(sum((p) => p.downloadedFiles), 'file') : `${sum((p) => p.downloadedFiles)} of them`;
  const lines = [
    `Backed up ${plural(points.length, part)}: ${plural(sum((p) => p.items), 'item')} (${files}, ${plural(sum((p) => p.folders), 'folder')}, ${formatBytes(sum((p) => p.bytes))}); ` +
      `read ${read} (${formatBytes(sum((p) => p.downloadedBytes))}), stored ${formatBytes(sum((p) => p.storedBytes))}.`,
    indent(
      formatTable(
        [part.toUpperCase(), 'TYPE', 'ITEMS', 'FILES', 'SIZE', 'ADDED', 'CHANGED', 'REMOVED', 'READ', 'STORED'],
        points.map((p) => [p.part, p.kind, String(p.items), String(p.files), formatBytes(p.bytes), String(p.added), String(p.changed), String(p.removed), formatBytes(p.downloadedBytes), formatBytes(p.storedBytes)]),
      ),
    ),
  ];
  for (const p of points.filter((q) => q.resynced)) lines.push(`${p.part}: the change list had expired, so the whole ${p.partKind === 'drive' ? 'drive' : 'part'} was listed again and compared with the last backup.`);
  return lines.join('\n');
}

/** What a restore's "files" are, by the part it restored. */
const RESTORED_NOUN: Record<string, string> = { drive: 'file', mail: 'message', calendar: 'event', contacts: 'contact' };

/** "Restored 3 files and 1 folder (2.0 MiB) to /Restore-2026-12-07 0315 in the OneDrive of …", then what was skipped or failed, each named. */
export function formatM365RestoreResult(result: M365RestoreResult, task: Task): string {
  const params = M365RestoreParamsSchema.safeParse(task.params);
  const where = params.success ? ` in ${params.data.target.label}` : '';
  const noun = RESTORED_NOUN[params.success ? params.data.partKind : 'drive'] ?? 'file';
  const lines = [
    `Restored ${plural(result.restoredFiles, noun)} and ${plural(result.restoredFolders, 'folder')} (${formatBytes(result.restoredBytes)}) to ${result.targetRoot}${where}.`,
  ];
  if (result.skipped.length > 0) {
    lines.push(`Skipped ${plural(result.skipped.length, 'item')}:`);
    for (const s of result.skipped) lines.push(`  ${s.path}: ${s.reason}`);
  }
  if (result.failed.length > 0) {
    lines.push(`Could not restore ${plural(result.failed.length, 'item')}:`);
    for (const f of result.failed) lines.push(`  ${f.path}: ${f.reason}`);
  }
  return lines.join('\n');
}
