import type { AssignmentRules, PolicyKind, PolicyRun } from '../../../common/api/policies.js';
import { RETENTION_RULES, type Retention } from '../../../common/api/destinations.js';
import { canonicalName, looksLikeId, sameName } from '../../../common/names.js';
import type { Sql, SqlValue } from '../db/catalog.js';

export type PolicyRetention = Retention & { keepLatestOfExistingVm: boolean };

export interface PolicyRow {
  id: number;
  name: string;
  kind: PolicyKind;
  destination_id: number | null;
  destination_name: string | null;
  priority: number;
  enabled: number;
  time_zone: string;
  schedules: string | string[];
  retention: string | PolicyRetention | null;
  retention_schedule: string | null;
  verify_schedule: string | null;
  verify_parts: number;
  /** Scheduled verifies so far: the next one checks part verify_runs mod verify_parts. */
  verify_runs: number;
  assignment: string | AssignmentRules;
  fail_run_above_percent: number | null;
  copy_destination_id: number | null;
  copy_destination_name: string | null;
  copy_retention: string | Retention | null;
  evaluated_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface PolicyRunRow {
  id: number;
  policy_id: number;
  policy_name: string;
  purpose: PolicyRun['purpose'];
  trigger: PolicyRun['trigger'];
  backup_type: 'full' | 'incremental' | null;
  scheduled_for: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  state: PolicyRun['state'];
  vms: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  message: string | null;
  workflows: string | number[];
  /** 1 when the policy's failure threshold cancelled the rest of the run. */
  threshold_cancelled: number;
}

export interface VmAssignmentRow {
  vm_id: number;
  vm_name: string;
  vm_uuid: string;
  present: number;
  hypervisor_name: string;
  hypervisor_uri: string;
  node_id: number;
  policy_id: number;
  source: 'auto' | 'manual';
}

export interface PolicyFields {
  name: string;
  kind: PolicyKind;
  destinationId: number | null;
  priority: number;
  enabled: boolean;
  timeZone: string;
  schedules: string[];
  retention: PolicyRetention | null;
  retentionSchedule: string | null;
  verifySchedule: string | null;
  verifyParts: number;
  assignment: AssignmentRules;
  failRunAbovePercent: number | null;
  /** Backup policies: each new backup is copied there too. */
  copyDestinationId: number | null;
  /** Which copies stay there; null: the policy's retention. */
  copyRetention: Retention | null;
}

export const json = <T>(v: string | T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

/**
 * A policy's retention rules as stored. A rule of 0 (accepted by older versions, where it
 * meant "not used") is left out; a policy left with no rule has no retention.
 */
export function storedRetention(v: PolicyRow['retention']): PolicyRetention | null {
  if (!v) return null;
  const stored = json<PolicyRetention>(v);
  const retention: PolicyRetention = { keepLatestOfExistingVm: stored.keepLatestOfExistingVm };
  for (const rule of RETENTION_RULES) {
    const value = stored[rule];
    if (typeof value === 'number' && value > 0) retention[rule] = value;
  }
  return RETENTION_RULES.some((rule) => retention[rule] !== undefined) ? retention : null;
}

const POLICIES = `SELECT p.*, d.name AS destination_name, cd.name AS copy_destination_name FROM policies p LEFT JOIN destinations d ON d.id = p.destination_id LEFT JOIN destinations cd ON cd.id = p.copy_destination_id`;
/** The columns an edit may change, in the order editableValues() gives them. */
const EDITABLE = ['name', 'destination_id', 'priority', 'enabled', 'time_zone', 'schedules', 'retention', 'retention_schedule', 'verify_schedule', 'verify_parts', 'assignment', 'fail_run_above_percent', 'copy_destination_id', 'copy_retention'] as const;

function editableValues(f: PolicyFields): SqlValue[] {
  return [
    canonicalName(f.name),
    f.destinationId,
    f.priority,
    f.enabled ? 1 : 0,
    f.timeZone,
    JSON.stringify(f.schedules),
    f.retention ? JSON.stringify(f.retention) : null,
    f.retentionSchedule,
    f.verifySchedule,
    f.verifyParts,
    JSON.stringify(f.assignment),
    f.failRunAbovePercent,
    f.copyDestinationId,
    f.copyRetention ? JSON.stringify(f.copyRetention) : null,
  ];
}

const ASSIGNMENTS = `SELECT vp.vm_id, v.name AS vm_name, v.uuid AS vm_uuid, v.present, h.name AS hypervisor_name, h.uri AS hypervisor_uri, h.node_id, vp.policy_id, vp.source
  FROM vm_policies vp JOIN vms v ON v.id = vp.vm_id JOIN hypervisors h ON h.id = v.hypervisor_id`;
const RUNS = `SELECT r.*, p.name AS policy_name FROM policy_runs r JOIN policies p ON p.id = r.policy_id`;

export function toPolicyRun(r: PolicyRunRow): PolicyRun {
  const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
  return {
    id: r.id,
    policyId: r.policy_id,
    policy: r.policy_name,
    purpose: r.purpose,
    trigger: r.trigger,
    backupType: r.backup_type,
    scheduledFor: iso(r.scheduled_for),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    state: r.state,
    vms: r.vms,
    succeeded: r.succeeded,
    failed: r.failed,
    cancelled: r.cancelled,
    message: r.message,
    workflowIds: json<number[]>(r.workflows),
  };
}

/** Policies, which VM is in which policy, and the record of every policy run (or miss). */
export class PoliciesRepository {
  constructor(private readonly sql: Sql) {}

  list(): Promise<PolicyRow[]> {
    return this.sql.query<PolicyRow>(`${POLICIES} ORDER BY p.kind, p.priority DESC, p.name`);
  }

  /** By id, or by name (common/names.ts): never a policy whose name merely collates alike. */
  async byRef(ref: string): Promise<PolicyRow | undefined> {
    if (looksLikeId(ref)) {
      const byId = await this.byId(Number(ref));
      if (byId) return byId;
    }
    return (await this.sql.query<PolicyRow>(`${POLICIES} WHERE p.name = ?`, [canonicalName(ref)])).find((r) => sameName(r.name, ref));
  }

  async byId(id: number): Promise<PolicyRow | undefined> {
    return (await this.sql.query<PolicyRow>(`${POLICIES} WHERE p.id = ?`, [id]))[0];
  }

  async insert(f: PolicyFields, evaluatedUntil: Date, sql: Sql = this.sql): Promise<number> {
    const r = await sql.execute(
      `INSERT INTO policies (kind, evaluated_until, ${EDITABLE.join(', ')}) VALUES (?, ?, ${EDITABLE.map(() => '?').join(', ')})`,
      [f.kind, evaluatedUntil, ...editableValues(f)],
    );
    return Number(r.insertId);
  }

  async update(id: number, f: PolicyFields, sql: Sql = this.sql): Promise<void> {
    await sql.execute(`UPDATE policies SET ${EDITABLE.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`, [...editableValues(f), id]);
  }

  async delete(id: number): Promise<void> {
    await this.sql.execute('DELETE FROM policies WHERE id = ?', [id]);
  }

  /** The policy whose run started this workflow (a scheduled or "run now" backup), if any. */
  async ofWorkflow(workflowId: number): Promise<PolicyRow | undefined> {
    return (await this.sql.query<PolicyRow>(`${POLICIES} JOIN policy_runs r ON r.policy_id = p.id JOIN workflows w ON w.policy_run_id = r.id WHERE w.id = ?`, [workflowId]))[0];
  }

  /** Takes the next verify part of the policy (0-based, rotating through verify_parts); a racing taker retries. */
  async nextVerifyPart(id: number): Promise<{ part: number; of: number }> {
    for (;;) {
      const row = (await this.sql.query<{ verify_runs: number; verify_parts: number }>('SELECT verify_runs, verify_parts FROM policies WHERE id = ?', [id]))[0];
      if (!row) throw new Error(`policy ${id} is gone`);
      const taken = Number(row.verify_runs);
      const res = await this.sql.execute('UPDATE policies SET verify_runs = verify_runs + 1 WHERE id = ? AND verify_runs = ?', [id, taken]);
      const of = Math.max(1, Number(row.verify_parts));
      if (res.affectedRows === 1) return { part: taken % of, of };
    }
  }

  async setEvaluatedUntil(id: number, at: Date, sql: Sql = this.sql): Promise<void> {
    await sql.execute('UPDATE policies SET evaluated_until = ? WHERE id = ? AND (evaluated_until IS NULL OR evaluated_until < ?)', [at, id, at]);
  }

  // ---- assignments -------------------------------------------------------------------------

  /** Every VM's assignment of the given kind, with what matching needs. */
  assignments(kind: PolicyKind): Promise<VmAssignmentRow[]> {
    return this.sql.query<VmAssignmentRow>(`${ASSIGNMENTS} WHERE vp.kind = ?`, [kind]);
  }

  policyVms(policyId: number): Promise<VmAssignmentRow[]> {
    return this.sql.query<VmAssignmentRow>(`${ASSIGNMENTS} WHERE vp.policy_id = ? ORDER BY v.name`, [policyId]);
  }

  async assign(vmId: number, kind: PolicyKind, policyId: number, source: 'auto' | 'manual', sql: Sql = this.sql): Promise<void> {
    await sql.execute(
      `INSERT INTO vm_policies (vm_id, kind, policy_id, source) VALUES (?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE policy_id = VALUES(policy_id), source = VALUES(source), assigned_at = CURRENT_TIMESTAMP(3)`,
      [vmId, kind, policyId, source],
    );
  }

  async unassign(vmId: number, kind: PolicyKind, sql: Sql = this.sql): Promise<void> {
    await sql.execute('DELETE FROM vm_policies WHERE vm_id = ? AND kind = ?', [vmId, kind]);
  }

  // ---- runs --------------------------------------------------------------------------------

  /**
   * Records a run for an occurrence. Returns undefined when this occurrence already has one
   * (another server, or an earlier start, got there first): the unique key decides.
   */
  async insertRun(
    r: { policyId: number; purpose: PolicyRun['purpose']; trigger: PolicyRun['trigger']; backupType: 'full' | 'incremental' | null; scheduledFor: Date | null; state: PolicyRun['state']; startedAt: Date | null; message?: string | null; finishedAt?: Date | null },
    sql: Sql = this.sql,
  ): Promise<number | undefined> {
    try {
      const res = await sql.execute(
        `INSERT INTO policy_runs (policy_id, purpose, \`trigger\`, backup_type, scheduled_for, started_at, finished_at, state, message, workflows) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')`,
        [r.policyId, r.purpose, r.trigger, r.backupType, r.scheduledFor, r.startedAt, r.finishedAt ?? null, r.state, r.message ?? null],
      );
      return Number(res.insertId);
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_DUP_ENTRY') return undefined;
      throw err;
    }
  }

  async run(id: number): Promise<PolicyRunRow | undefined> {
    return (await this.sql.query<PolicyRunRow>(`${RUNS} WHERE r.id = ?`, [id]))[0];
  }

  runningRuns(): Promise<PolicyRunRow[]> {
    return this.sql.query<PolicyRunRow>(`${RUNS} WHERE r.state = 'running' ORDER BY r.id`);
  }

  /**
   * Newest first from the cursor on, one row more than `limit` (to tell whether a page
   * follows). The ids come first, from (policy_id, id), (state, id) or the primary key read
   * backwards; only then are the page's rows read and named.
   */
  runs(q: { policyId?: number | undefined; state?: PolicyRun['state'] | undefined; cursor?: string | undefined; limit: number }): Promise<PolicyRunRow[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const filters: [string, SqlValue][] = [
      ['policy_id = ?', q.policyId],
      ['state = ?', q.state],
      ['id < ?', q.cursor === undefined ? undefined : Number(q.cursor)],
    ];
    for (const [condition, value] of filters) {
      if (value === undefined) continue;
      where.push(condition);
      params.push(value);
    }
    const keys = `SELECT id FROM policy_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return this.sql.query<PolicyRunRow>(`SELECT r.*, p.name AS policy_name FROM (${keys}) k JOIN policy_runs r ON r.id = k.id JOIN policies p ON p.id = r.policy_id ORDER BY r.id DESC`, [...params, q.limit + 1]);
  }

  async lastRun(policyId: number): Promise<PolicyRunRow | undefined> {
    return (await this.sql.query<PolicyRunRow>(`${RUNS} WHERE r.policy_id = ? AND r.purpose = 'run' ORDER BY r.id DESC LIMIT 1`, [policyId]))[0];
  }

  async updateRun(
    id: number,
    f: Partial<{ state: PolicyRun['state']; vms: number; succeeded: number; failed: number; cancelled: number; message: string | null; workflows: number[]; finishedAt: Date | null; thresholdCancelled: boolean }>,
  ): Promise<void> {
    const sets: string[] = [];
    const values: SqlValue[] = [];
    const put = (col: string, v: SqlValue): void => {
      sets.push(`${col} = ?`);
      values.push(v);
    };
    if (f.state !== undefined) put('state', f.state);
    if (f.vms !== undefined) put('vms', f.vms);
    if (f.succeeded !== undefined) put('succeeded', f.succeeded);
    if (f.failed !== undefined) put('failed', f.failed);
    if (f.cancelled !== undefined) put('cancelled', f.cancelled);
    if (f.message !== undefined) put('message', f.message?.slice(0, 2000) ?? null);
    if (f.workflows !== undefined) put('workflows', JSON.stringify(f.workflows));
    if (f.finishedAt !== undefined) put('finished_at', f.finishedAt);
    if (f.thresholdCancelled !== undefined) put('threshold_cancelled', f.thresholdCancelled ? 1 : 0);
    if (sets.length === 0) return;
    await this.sql.execute(`UPDATE policy_runs SET ${sets.join(', ')} WHERE id = ?`, [...values, id]);
  }

  async destinationNode(destinationId: number): Promise<number | undefined> {
    const rows = await this.sql.query<{ node_id: number }>('SELECT node_id FROM destinations WHERE id = ?', [destinationId]);
    return rows[0]?.node_id;
  }

  /** Final states of the given workflows (absent ids: the workflow is gone). */
  async workflowStates(ids: readonly number[]): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.sql.query<{ id: number; state: string }>(`SELECT id, state FROM workflows WHERE id IN (${ids.map(() => '?').join(',')})`, [...ids]);
    return new Map(rows.map((r) => [Number(r.id), r.state]));
  }
}
