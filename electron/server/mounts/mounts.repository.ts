import type { IscsiInfo, Mount, MountFilesystem, MountState } from '../../../common/api/mounts.js';
import type { Sql } from '../db/catalog.js';

export interface MountRow {
  id: number;
  kind: Mount['kind'];
  backup_id: number | null;
  m365_backup_id: number | null;
  node_id: number;
  node_name: string;
  node_host: string;
  task_id: number | null;
  state: MountState;
  disks: string | string[] | null;
  overlay: number;
  filesystems: string | MountFilesystem[] | null;
  iscsi: string | IscsiInfo | null;
  idle_seconds: number;
  last_used_at: Date;
  created_by: string;
  created_at: Date;
  closed_at: Date | null;
  error: string | null;
  vm: string;
  backup_created_at: Date;
  repo_backup_id: string;
  destination_id: number;
  destination_name: string;
}

const json = <T>(v: string | T | null): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
export const ACTIVE_STATES: readonly MountState[] = ['MOUNTING', 'MOUNTED', 'CLOSING'];

export function toMount(r: MountRow): Mount {
  const active = ACTIVE_STATES.includes(r.state);
  return {
    id: r.id,
    kind: r.kind,
    backupId: r.backup_id,
    m365BackupId: r.m365_backup_id,
    vm: r.vm,
    backupCreatedAt: r.backup_created_at.toISOString(),
    destination: r.destination_name,
    nodeId: r.node_id,
    node: r.node_name,
    taskId: r.task_id,
    state: r.state,
    disks: json<string[]>(r.disks) ?? [],
    overlay: r.overlay === 1,
    filesystems: json<MountFilesystem[]>(r.filesystems) ?? [],
    iscsi: withReachablePortal(json<IscsiInfo>(r.iscsi), r.node_host),
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    idleSeconds: r.idle_seconds,
    expiresAt: active ? new Date(r.last_used_at.getTime() + r.idle_seconds * 1000).toISOString() : null,
    closedAt: r.closed_at ? r.closed_at.toISOString() : null,
    error: r.error,
  };
}

/** tgtd listens on 0.0.0.0 (all addresses): initiators connect to the node's own address. */
function withReachablePortal(info: IscsiInfo | null, host: string): IscsiInfo | null {
  if (!info) return null;
  const m = /^(0\.0\.0\.0|\[::\]|::):(\d+)$/.exec(info.portal);
  return m ? { ...info, portal: `${host.includes(':') ? `[${host}]` : host}:${m[2]}` } : info;
}

/** A mount's row with what it opened: a VM backup (b) or a Microsoft 365 backup (mb), exactly one. */
const SELECT = `SELECT m.*, n.name AS node_name, n.host AS node_host,
    COALESCE((SELECT v.name FROM vms v WHERE v.uuid = b.vm ORDER BY v.id DESC LIMIT 1), b.vm, mb.subject_name) AS vm,
    COALESCE(b.created_at, mb.created_at) AS backup_created_at, COALESCE(b.repo_backup_id, mb.run_id) AS repo_backup_id,
    d.id AS destination_id, d.name AS destination_name
  FROM mounts m JOIN nodes n ON n.id = m.node_id
  LEFT JOIN backups b ON b.id = m.backup_id LEFT JOIN m365_backups mb ON mb.id = m.m365_backup_id
  JOIN destinations d ON d.id = COALESCE(b.destination_id, mb.destination_id)`;

export class MountsRepository {
  constructor(private readonly sql: Sql) {}

  async insert(m: { kind: Mount['kind']; backupId: number | null; m365BackupId?: number; nodeId: number; disks: string[] | null; overlay: boolean; idleSeconds: number; createdBy: string }): Promise<number> {
    const r = await this.sql.execute('INSERT INTO mounts (kind, backup_id, m365_backup_id, node_id, disks, overlay, idle_seconds, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      m.kind,
      m.backupId,
      m.m365BackupId ?? null,
      m.nodeId,
      m.disks ? JSON.stringify(m.disks) : null,
      m.overlay ? 1 : 0,
      m.idleSeconds,
      m.createdBy,
    ]);
    return Number(r.insertId);
  }

  async byId(id: number): Promise<MountRow | undefined> {
    return (await this.sql.query<MountRow>(`${SELECT} WHERE m.id = ?`, [id]))[0];
  }

  async byTask(taskId: number): Promise<MountRow | undefined> {
    return (await this.sql.query<MountRow>(`${SELECT} WHERE m.task_id = ?`, [taskId]))[0];
  }

  /** The open browse mount of a Microsoft 365 backup, if one is open (browsing again reuses it). */
  async activeOfM365(m365BackupId: number): Promise<MountRow | undefined> {
    return (await this.sql.query<MountRow>(`${SELECT} WHERE m.m365_backup_id = ? AND m.state IN ('MOUNTING','MOUNTED') ORDER BY m.id DESC LIMIT 1`, [m365BackupId]))[0];
  }

  async list(activeOnly: boolean): Promise<MountRow[]> {
    return this.sql.query<MountRow>(`${SELECT} ${activeOnly ? "WHERE m.state IN ('MOUNTING','MOUNTED','CLOSING')" : ''} ORDER BY m.id DESC LIMIT 200`);
  }

  async setTask(id: number, taskId: number): Promise<void> {
    await this.sql.execute('UPDATE mounts SET task_id = ? WHERE id = ?', [taskId, id]);
  }

  async mounted(id: number, filesystems: MountFilesystem[], iscsi: IscsiInfo | null): Promise<void> {
    await this.sql.execute("UPDATE mounts SET state = IF(state = 'MOUNTING', 'MOUNTED', state), filesystems = ?, iscsi = ?, last_used_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND state IN ('MOUNTING','MOUNTED')", [
      JSON.stringify(filesystems),
      iscsi ? JSON.stringify(iscsi) : null,
      id,
    ]);
  }

  async setState(id: number, state: MountState, error: string | null = null): Promise<void> {
    const final = state === 'CLOSED' || state === 'FAILED';
    await this.sql.execute(`UPDATE mounts SET state = ?, error = COALESCE(?, error)${final ? ', closed_at = COALESCE(closed_at, CURRENT_TIMESTAMP(3))' : ''} WHERE id = ?`, [state, error, id]);
  }

  async touch(id: number, idleSeconds?: number): Promise<void> {
    await this.sql.execute(`UPDATE mounts SET last_used_at = CURRENT_TIMESTAMP(3)${idleSeconds ? ', idle_seconds = ?' : ''} WHERE id = ?`, idleSeconds ? [idleSeconds, id] : [id]);
  }

  /** Mounts whose MOUNT task ended while the server was not listening (a restart). */
  async reconcile(): Promise<void> {
    await this.sql.execute(
      `UPDATE mounts m JOIN tasks t ON t.id = m.task_id
          SET m.state = IF(t.state = 'FAILED', 'FAILED', 'CLOSED'), m.error = COALESCE(m.error, t.error), m.closed_at = COALESCE(t.finished_at, CURRENT_TIMESTAMP(3))
        WHERE m.state IN ('MOUNTING','MOUNTED','CLOSING') AND t.state IN ('FINISHED','FINISHED_WITH_WARNINGS','FAILED','CANCELLED')`,
    );
  }
}
