import type { Hypervisor, Vm } from '../../../common/api/hypervisors.js';
import { canonicalName, looksLikeId, sameName } from '../../../common/names.js';
import type { Sql } from '../db/catalog.js';

export interface HypervisorRow {
  id: number;
  name: string;
  node_id: number;
  node_name: string;
  uri: string;
  status: Hypervisor['status'];
  status_message: string | null;
  last_sync_at: Date | null;
  created_at: Date;
  vm_count: number;
}

export interface VmRow {
  id: number;
  hypervisor_id: number;
  hypervisor_name: string;
  node_id: number;
  uri: string;
  uuid: string;
  name: string;
  state: string;
  present: number;
  vcpus: number;
  memory_bytes: number;
  disks: string | DiskInfo[];
  excluded_disks: string | string[];
  updated_at: Date;
  last_backup_at: Date | null;
  last_backup_type: 'full' | 'incremental' | null;
  backups: number;
  protected_backups: number;
  damaged_backups: number;
  policy_name: string | null;
}

export interface DiskInfo {
  target: string;
  path: string | null;
  format: string | null;
  virtualBytes: number;
  allocatedBytes: number | null;
}

export interface DomainInfo {
  name: string;
  uuid: string;
  state: string;
  vcpus: number;
  memoryBytes: number;
  disks: DiskInfo[];
}

const json = <T>(v: string | T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

export function toHypervisor(r: HypervisorRow): Hypervisor {
  return {
    id: r.id,
    name: r.name,
    nodeId: r.node_id,
    node: r.node_name,
    uri: r.uri,
    status: r.status,
    statusMessage: r.status_message,
    vms: Number(r.vm_count),
    lastSyncAt: r.last_sync_at ? r.last_sync_at.toISOString() : null,
    createdAt: r.created_at.toISOString(),
  };
}

export function excludedOf(r: VmRow): string[] {
  return json<string[]>(r.excluded_disks);
}

export function toVm(r: VmRow): Vm {
  const excluded = new Set(excludedOf(r));
  return {
    id: r.id,
    hypervisorId: r.hypervisor_id,
    hypervisor: r.hypervisor_name,
    name: r.name,
    uuid: r.uuid,
    state: r.present ? r.state : 'missing',
    present: r.present === 1,
    vcpus: r.vcpus,
    memoryBytes: Number(r.memory_bytes),
    disks: json<DiskInfo[]>(r.disks).map((d) => ({ ...d, excluded: excluded.has(d.target) })),
    lastBackupAt: r.last_backup_at ? r.last_backup_at.toISOString() : null,
    lastBackupType: r.last_backup_type,
    backups: Number(r.backups),
    protectedBackups: Number(r.protected_backups),
    damagedBackups: Number(r.damaged_backups),
    policy: r.policy_name,
    updatedAt: r.updated_at.toISOString(),
  };
}

const HYPERVISORS = `SELECT h.*, n.name AS node_name, (SELECT COUNT(*) FROM vms v WHERE v.hypervisor_id = h.id AND v.present = 1) AS vm_count
  FROM hypervisors h JOIN nodes n ON n.id = h.node_id`;

// A VM's backups as its summary row has them (backups/vm-summaries.ts keeps it up to date):
// one row per VM instead of going over all its backups for each VM of each list.
const VMS = `SELECT v.*, h.name AS hypervisor_name, h.node_id, h.uri,
    s.last_backup_at, s.last_backup_type, COALESCE(s.backups, 0) AS backups, COALESCE(s.protected, 0) AS protected_backups,
    COALESCE(s.damaged, 0) AS damaged_backups, p.name AS policy_name
  FROM vms v JOIN hypervisors h ON h.id = v.hypervisor_id
  LEFT JOIN vm_backup_summaries s ON s.vm = v.uuid
  LEFT JOIN vm_policies vp ON vp.vm_id = v.id AND vp.kind = 'backup'
  LEFT JOIN policies p ON p.id = vp.policy_id`;

export class InventoryRepository {
  constructor(private readonly sql: Sql) {}

  async hypervisors(): Promise<HypervisorRow[]> {
    return this.sql.query<HypervisorRow>(`${HYPERVISORS} ORDER BY h.name`);
  }

  /** By id, or by name (common/names.ts): never a hypervisor whose name merely collates alike. */
  async hypervisor(ref: string): Promise<HypervisorRow | undefined> {
    if (looksLikeId(ref)) {
      const byId = (await this.sql.query<HypervisorRow>(`${HYPERVISORS} WHERE h.id = ?`, [Number(ref)]))[0];
      if (byId) return byId;
    }
    return (await this.sql.query<HypervisorRow>(`${HYPERVISORS} WHERE h.name = ?`, [canonicalName(ref)])).find((r) => sameName(r.name, ref));
  }

  async insertHypervisor(h: { name: string; nodeId: number; uri: string }): Promise<number> {
    return (await this.sql.execute('INSERT INTO hypervisors (name, node_id, uri) VALUES (?, ?, ?)', [canonicalName(h.name), h.nodeId, h.uri])).insertId;
  }

  async deleteHypervisor(id: number): Promise<void> {
    await this.sql.execute('DELETE FROM hypervisors WHERE id = ?', [id]);
  }

  async setHypervisorStatus(id: number, status: Hypervisor['status'], message: string | null): Promise<void> {
    await this.sql.execute(
      `UPDATE hypervisors SET status = ?, status_message = ?, last_sync_at = IF(? = 'ok', CURRENT_TIMESTAMP(3), last_sync_at) WHERE id = ?`,
      [status, message?.slice(0, 1000) ?? null, status, id],
    );
  }

  /** The host's domains as just listed; VMs no longer there are kept but marked missing. Returns the ids touched. */
  async applyInventory(hypervisorId: number, domains: DomainInfo[]): Promise<number[]> {
    for (const d of domains) {
      await this.sql.execute(
        `INSERT INTO vms (hypervisor_id, uuid, name, state, present, vcpus, memory_bytes, disks, excluded_disks)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?, '[]')
         ON DUPLICATE KEY UPDATE name = VALUES(name), state = VALUES(state), present = 1, vcpus = VALUES(vcpus),
                                 memory_bytes = VALUES(memory_bytes), disks = VALUES(disks)`,
        [hypervisorId, d.uuid, d.name, d.state, d.vcpus, Math.round(d.memoryBytes), JSON.stringify(d.disks)],
      );
    }
    const uuids = domains.map((d) => d.uuid);
    await this.sql.execute(
      `UPDATE vms SET present = 0 WHERE hypervisor_id = ? ${uuids.length ? `AND uuid NOT IN (${uuids.map(() => '?').join(',')})` : ''}`,
      [hypervisorId, ...uuids],
    );
    return (await this.sql.query<{ id: number }>('SELECT id FROM vms WHERE hypervisor_id = ?', [hypervisorId])).map((r) => r.id);
  }

  async vms(hypervisorId?: number): Promise<VmRow[]> {
    return hypervisorId === undefined
      ? this.sql.query<VmRow>(`${VMS} ORDER BY v.name`)
      : this.sql.query<VmRow>(`${VMS} WHERE v.hypervisor_id = ? ORDER BY v.name`, [hypervisorId]);
  }

  async vmById(id: number): Promise<VmRow | undefined> {
    return (await this.sql.query<VmRow>(`${VMS} WHERE v.id = ?`, [id]))[0];
  }

  /**
   * By id, UUID or name (a name must be unambiguous). Names follow common/names.ts, but libvirt
   * tells "web" from "Web": a VM named exactly as asked wins over one that is only the same
   * name; several left are ambiguous (the caller lists them), never one picked at random.
   */
  async vm(ref: string): Promise<VmRow | VmRow[] | undefined> {
    if (looksLikeId(ref)) {
      const byId = await this.vmById(Number(ref));
      if (byId) return byId;
    }
    const name = canonicalName(ref);
    const rows = await this.sql.query<VmRow>(`${VMS} WHERE v.uuid = ? OR v.name = ? ORDER BY v.present DESC`, [ref.trim().toLowerCase(), name]);
    const byUuid = rows.find((r) => r.uuid === ref.trim().toLowerCase());
    if (byUuid) return byUuid;
    const same = rows.filter((r) => sameName(r.name, ref));
    const exact = same.filter((r) => canonicalName(r.name) === name);
    const found = exact.length > 0 ? exact : same;
    return found.length > 1 ? found : found[0];
  }

  async setExcludedDisks(id: number, disks: string[]): Promise<void> {
    await this.sql.execute('UPDATE vms SET excluded_disks = ? WHERE id = ?', [JSON.stringify(disks), id]);
  }

  async chain(vmId: number, destinationId: number): Promise<{ checkpoint: string; backupId: string } | undefined> {
    const rows = await this.sql.query<{ checkpoint: string; repo_backup_id: string }>('SELECT checkpoint, repo_backup_id FROM vm_chains WHERE vm_id = ? AND destination_id = ?', [vmId, destinationId]);
    return rows[0] ? { checkpoint: rows[0].checkpoint, backupId: rows[0].repo_backup_id } : undefined;
  }

  /** The checkpoints this VM's chains on other destinations start from. */
  async otherChainCheckpoints(vmId: number, destinationId: number): Promise<string[]> {
    const rows = await this.sql.query<{ checkpoint: string }>('SELECT checkpoint FROM vm_chains WHERE vm_id = ? AND destination_id <> ? ORDER BY destination_id', [vmId, destinationId]);
    return rows.map((r) => r.checkpoint);
  }

  async clearChains(vmId: number): Promise<void> {
    await this.sql.execute('DELETE FROM vm_chains WHERE vm_id = ?', [vmId]);
  }

  async setChain(vmId: number, destinationId: number, chain: { checkpoint: string; backupId: string } | null): Promise<void> {
    if (!chain) {
      await this.sql.execute('DELETE FROM vm_chains WHERE vm_id = ? AND destination_id = ?', [vmId, destinationId]);
      return;
    }
    await this.sql.execute(
      'INSERT INTO vm_chains (vm_id, destination_id, checkpoint, repo_backup_id) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE checkpoint = VALUES(checkpoint), repo_backup_id = VALUES(repo_backup_id)',
      [vmId, destinationId, chain.checkpoint, chain.backupId],
    );
  }
}
