/** How `vplus policy` prints policies and their runs. */
import type { Policy, PolicyRun } from '../common/api/index.js';
import { formatTable, formatTimestamp } from './format.js';
import { formatFields } from './output.js';
import { quoteArg, runCounts, runStateWords } from './policy-run-follower.js';
import { formatRetention } from './retention.js';
import { plural } from './task-results.js';

/** "destination nas, 2 schedules, keeps last=3 daily=14, 3 VMs" */
export function summary(p: Policy): string {
  const parts = [
    `destination ${p.destination ?? '-'}`,
    p.schedules.length === 0 ? 'no schedule' : p.schedules.map((s) => `"${s}"`).join(', '),
    p.retention ? `keeps ${formatRetention(p.retention)}` : 'keeps every backup',
    p.kind === 'm365' ? plural(p.m365Members?.length ?? 0, 'user or site', 'users and sites') : plural(p.vms.length, 'VM'),
  ];
  if (!p.enabled) parts.push('disabled');
  else if (p.nextRun) parts.push(`next run ${formatNextRun(p)}`);
  return parts.join(', ');
}

/** "2025-02-03 22:00 (incremental)"; "-" when there is none, "disabled" for a policy switched off. */
export function formatNextRun(p: Pick<Policy, 'nextRun' | 'enabled'>): string {
  if (!p.enabled) return 'disabled';
  if (!p.nextRun) return '-';
  return `${formatTimestamp(p.nextRun.at)}${p.nextRun.backupType ? ` (${p.nextRun.backupType})` : ''}`;
}

/** "finished 2025-01-31 22:00", "running since …", "missed 2025-01-31 22:00"; "never". */
export function formatLastRun(run: PolicyRun | null): string {
  if (!run) return 'never';
  if (run.state === 'running') return `running since ${formatTimestamp(run.startedAt)}`;
  return `${runStateWords(run.state)} ${formatTimestamp(run.finishedAt ?? run.startedAt ?? run.scheduledFor)}`;
}

export function formatPolicies(policies: readonly Policy[]): string {
  if (policies.length === 0) return 'No policies. Create one with vplus policy create NAME --destination DEST --schedule "incremental mon-fri 22:00".';
  return formatTable(
    ['ID', 'NAME', 'DESTINATION', 'SCHEDULES', 'RETENTION', 'VMS', 'NEXT RUN', 'LAST RUN'],
    policies.map((p) => [
      String(p.id),
      p.name,
      p.destination ?? '-',
      p.schedules.join('; ') || '-',
      p.retention ? formatRetention(p.retention) : '-',
      // An m365 policy: its users and sites.
      String(p.kind === 'm365' ? (p.m365Members?.length ?? 0) : p.vms.length),
      formatNextRun(p),
      formatLastRun(p.lastRun),
    ]),
  );
}

function formatRules(p: Policy): [string, string][] {
  const a = p.assignment;
  return [
    ['Include', a.include.length > 0 ? a.include.map((r) => `"${r}"`).join(' ') : '-'],
    ['Exclude', a.exclude.length > 0 ? a.exclude.map((r) => `"${r}"`).join(' ') : '-'],
    ['Hypervisors', a.hypervisors.length > 0 ? a.hypervisors.join(', ') : '-'],
    ['Assign mode', a.mode === 'assign-only' ? 'assign-only (a VM the rules put in stays when it stops matching)' : 'assign-and-remove (a VM the rules put in leaves when it stops matching)'],
  ];
}

export function formatPolicy(p: Policy): string {
  const retention = p.retention
    ? `${formatRetention(p.retention)}${p.retention.keepLatestOfExistingVm ? ' (the newest backup of a VM still on its host is always kept)' : ''}`
    : 'none (every backup is kept)';
  const fields: [string, string][] = [
    ['ID', String(p.id)],
    ['Name', p.name],
    ['Enabled', p.enabled ? 'yes' : 'no (its schedules do not run)'],
    ['Destination', p.destination ?? '-'],
    ['Schedules', p.schedules.length > 0 ? p.schedules.join('; ') : 'none (runs only when started by hand)'],
    ['Time zone', p.timeZone],
    ['Retention', retention],
    ['Retention runs', p.retentionSchedule ? `after each run and ${p.retentionSchedule}` : p.retention ? 'after each run' : '-'],
    ['Copies', p.copyDestination ? `each new backup to ${p.copyDestination}, keeping ${p.copyRetention ? formatRetention(p.copyRetention) : 'what the retention keeps'} there` : '-'],
    ['Verify', p.verifySchedule ? `${p.verifySchedule}${p.verifyParts > 1 ? `, one of ${p.verifyParts} parts of the chunks each time` : ', every chunk'}` : '-'],
    ...formatRules(p),
    ['Priority', String(p.priority)],
    ['Fail run above', p.failRunAbovePercent === null ? 'never (every VM is tried)' : `${p.failRunAbovePercent} % of its VMs failed`],
    ['Next run', p.nextRun ? `${formatNextRun(p)}, by "${p.nextRun.rule}"` : formatNextRun(p)],
    ['Last run', p.lastRun ? `${formatLastRun(p.lastRun)}: ${runSummary(p.lastRun)}` : 'never'],
    ['Created', formatTimestamp(p.createdAt)],
    ['Updated', formatTimestamp(p.updatedAt)],
  ];
  if (p.kind === 'm365') {
    const members = p.m365Members ?? [];
    const list =
      members.length === 0
        ? 'Users and sites: none match its --include rules now (vplus m365 user list, vplus m365 site list)'
        : `Users and sites:\n${indent(formatTable(['KIND', 'NAME', 'TENANT'], members.map((m) => [m.kind, m.name, m.tenant])))}`;
    return `${formatFields([['Kind', 'Microsoft 365 (users and sites)'], ...fields])}\n${list}`;
  }
  const vms =
    p.vms.length === 0
      ? `VMs: none; add them with --include/--hypervisor rules (vplus policy update) or by hand (vplus policy assign ${quoteArg(p.name)} VM…)`
      : `VMs:\n${indent(formatTable(['ID', 'NAME', 'ASSIGNED'], p.vms.map((v) => [String(v.id), v.name, v.source === 'auto' ? 'by its rules' : 'by hand'])))}`;
  return `${formatFields(fields)}\n${vms}`;
}

/** "3 of 3 VMs backed up" / the run's message when it has no VMs. */
function runSummary(run: PolicyRun): string {
  const message = run.message ? `; ${run.message}` : '';
  if (run.vms === 0 && run.message) return run.message;
  return `${runCounts(run)}${message}`;
}

export function formatRuns(runs: readonly PolicyRun[], policy?: string): string {
  if (runs.length === 0) return policy === undefined ? 'No policy has run yet.' : `Policy "${policy}" has not run yet; run it with vplus policy run ${quoteArg(policy)}.`;
  const withPolicy = policy === undefined;
  return formatTable(
    ['ID', ...(withPolicy ? ['POLICY'] : []), 'TRIGGER', 'TYPE', 'SCHEDULED', 'STARTED', 'FINISHED', 'STATE', 'VMS', 'MESSAGE'],
    runs.map((r) => [
      String(r.id),
      ...(withPolicy ? [r.policy] : []),
      r.trigger,
      r.backupType ?? '-',
      r.scheduledFor ? formatTimestamp(r.scheduledFor) : '-',
      r.startedAt ? formatTimestamp(r.startedAt) : '-',
      r.finishedAt ? formatTimestamp(r.finishedAt) : '-',
      runStateWords(r.state),
      formatRunVms(r),
      truncate(r.message ?? '', 60),
    ]),
  );
}

/** "2/3 ok, 1 failed" */
export function formatRunVms(run: Pick<PolicyRun, 'vms' | 'succeeded' | 'failed' | 'cancelled'>): string {
  const parts = [`${run.succeeded}/${run.vms} ok`];
  if (run.failed > 0) parts.push(`${run.failed} failed`);
  if (run.cancelled > 0) parts.push(`${run.cancelled} cancelled`);
  return parts.join(', ');
}

function truncate(text: string, width: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= width ? oneLine : `${oneLine.slice(0, width - 1)}…`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
