import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { M365Backup, M365BackupListQuery, M365BackupPage, M365BackupPart, M365BackupRunRequest, M365RestoreRequest } from '../../../common/api/m365.js';
import { M365BackupListQuerySchema, M365BackupRunRequestSchema, M365RestoreRequestSchema } from '../../../common/api/m365.js';
import type { Mount } from '../../../common/api/mounts.js';
import { DEFAULT_MOUNT_IDLE_SECONDS } from '../../../common/api/mounts.js';
import type { RepoPoint } from '../../../common/api/destinations.js';
import { M365_EXCHANGE_PARTS, M365PointSourceSchema, m365DriveObjectKey, m365ExchangeObjectKey, m365RestoreFolderName, type M365DrivePart, type M365PartKind, type M365PointSource, type M365SubjectKind } from '../../../common/m365-tasks.js';
import type { TaskParamsOf, TaskResultOf } from '../../../common/task-contracts.js';
import type { Task } from '../../../common/api/tasks.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import type { Catalog } from '../db/catalog.js';
import type { DestinationsRepository } from '../destinations/destinations.repository.js';
import { badRequest, conflict, notFound } from '../errors.js';
import type { MountsService } from '../mounts/mounts.service.js';
import type { SecretsRepository } from '../security/secrets.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import { storedSettings } from './m365-connection.js';
import { toM365Backup, type M365BackupRow, type M365BackupsRepository } from './m365-backups.repository.js';
import type { LibraryRow, M365InventoryRepository, SiteRow, UserRow } from './m365-inventory.repository.js';
import type { M365TenantRow, M365TenantsRepository } from './m365-tenants.repository.js';

export interface M365BackupsServiceDeps {
  catalog: Catalog;
  backups: M365BackupsRepository;
  tenants: M365TenantsRepository;
  inventory: M365InventoryRepository;
  destinations: DestinationsRepository;
  secrets: SecretsRepository;
  engine: TaskEngine;
  mounts: MountsService;
  audit: AuditService;
  logger: Logger;
}

type Subject = { kind: 'user'; row: UserRow } | { kind: 'site'; row: SiteRow };

/** How a user's Exchange parts are named in messages: "the mailbox of alice@contoso.com". */
const EXCHANGE_LABELS: Record<Exclude<M365PartKind, 'drive'>, string> = { mail: 'the mailbox', calendar: 'the calendars', contacts: 'the contacts' };

/**
 * Backups of Microsoft 365 users (their OneDrive, mailbox, calendars and contacts) and sites
 * (their document libraries). A backup is an M365_BACKUP task on the destination's node,
 * which needs to reach Graph as the tenant's own node does; each part becomes a backup point
 * there, and the task's result a row of the catalog. Browsing opens the backup as a mount
 * (one folder per part) in the file explorer; a restore is an M365_RESTORE task writing back
 * through Graph, audited.
 */
export class M365BackupsService {
  constructor(private readonly d: M365BackupsServiceDeps) {
    const l = d.engine.listeners;
    l.onDispatch('M365_BACKUP', (_task, p) => this.backupDispatch(p));
    l.onDispatch('M365_RESTORE', async (_task, p) => {
      const tenant = await d.tenants.byId(p.m365TenantId);
      if (!tenant) return {};
      const target = p.target.kind === 'user' ? await d.inventory.userById(p.target.id) : await d.inventory.siteById(p.target.id);
      return { tenant: await storedSettings(tenant, d.secrets), targetOwner: target?.graph_id ?? p.target.driveId };
    });
    l.on('M365_BACKUP', (task, p, r) => this.record(task, p, r));
    l.on('REIMPORT', async (task, p, r) => {
      if (r?.points && r.points.length > 0) await this.reimport(p.destinationId, r.points);
    });
  }

  /** Backup now: one user or one site, to a destination; answers the task. */
  async run(input: M365BackupRunRequest, by: Principal): Promise<Task> {
    const req = M365BackupRunRequestSchema.parse(input);
    const tenantId = req.tenant === undefined ? undefined : (await this.tenant(req.tenant)).id;
    const subject = await this.subject(req.user !== undefined ? { kind: 'user', ref: req.user } : { kind: 'site', ref: req.site! }, tenantId);
    await this.partsOf(subject, (await this.d.tenants.byId(subject.row.tenant_id))!);
    const dest = await this.d.destinations.byRef(req.destination);
    if (!dest) throw notFound(`there is no destination "${req.destination}"`, 'destination');
    return this.d.engine.create({ ...(await this.backupTask({ kind: subject.kind, id: subject.row.id }, dest.id, req.full)), priority: 50, createdBy: by.user.username });
  }

  /**
   * The M365_BACKUP task of one user or site (catalog ids) to a destination, on the
   * destination's node, with a new run id: what backup now and a run of an m365 policy create.
   * Refused (409) when the subject has nothing to back up now (no OneDrive, no library).
   */
  async backupTask(ref: { kind: M365SubjectKind; id: number }, destinationId: number, full: boolean): Promise<{ type: 'M365_BACKUP'; params: TaskParamsOf<'M365_BACKUP'>; requiredNodeId: number; subject: string }> {
    const row = ref.kind === 'user' ? await this.d.inventory.userById(ref.id) : await this.d.inventory.siteById(ref.id);
    if (!row) throw notFound(`there is no ${ref.kind} ${ref.id}`, ref.kind);
    const subject = (ref.kind === 'user' ? { kind: 'user', row } : { kind: 'site', row }) as Subject;
    const tenant = await this.d.tenants.byId(row.tenant_id);
    if (!tenant) throw notFound(`the tenant of ${ref.kind} ${ref.id} is gone`, 'tenant');
    await this.partsOf(subject, tenant);
    const dest = await this.d.destinations.byId(destinationId);
    if (!dest) throw notFound(`there is no destination ${destinationId}`, 'destination');
    return {
      type: 'M365_BACKUP',
      params: { m365TenantId: row.tenant_id, destinationId: dest.id, subject: { kind: ref.kind, id: row.id }, runId: randomUUID(), full },
      requiredNodeId: dest.node_id,
      subject: subject.kind === 'user' ? `m365-user:${subject.row.upn}` : `m365-site:${subject.row.name}`,
    };
  }

  async list(input: M365BackupListQuery): Promise<M365BackupPage> {
    const q = M365BackupListQuerySchema.parse(input);
    const tenantId = q.tenant === undefined ? undefined : (await this.tenant(q.tenant)).id;
    const user = q.user === undefined ? undefined : (await this.subject({ kind: 'user', ref: q.user }, tenantId, false)).row.id;
    const site = q.site === undefined ? undefined : (await this.subject({ kind: 'site', ref: q.site }, tenantId, false)).row.id;
    let destinationId: number | undefined;
    if (q.destination !== undefined) {
      const dest = await this.d.destinations.byRef(q.destination);
      if (!dest) throw notFound(`there is no destination "${q.destination}"`, 'destination');
      destinationId = dest.id;
    }
    const page = await this.d.backups.page({
      limit: q.limit,
      ...(tenantId !== undefined ? { tenantId } : {}),
      ...(user !== undefined ? { userId: user } : {}),
      ...(site !== undefined ? { siteId: site } : {}),
      ...(destinationId !== undefined ? { destinationId } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    return { backups: page.rows.map(toM365Backup), nextCursor: page.nextCursor };
  }

  async get(id: number): Promise<M365Backup> {
    return toM365Backup(await this.require(id));
  }

  /** Opens the backup in the file explorer (a mount with one folder per drive); an open one is reused. */
  async browse(id: number, idleSeconds: number | undefined, by: Principal): Promise<Mount> {
    const row = await this.available(id);
    const parts = toM365Backup(row).parts;
    return this.d.mounts.startM365({ id: row.id, destinationId: row.destination_id, runId: row.run_id, subjectName: row.subject_name, parts }, idleSeconds ?? DEFAULT_MOUNT_IDLE_SECONDS, by);
  }

  /** Restores paths of one drive of the backup to the original drive or another of the same tenant. */
  async restore(id: number, input: M365RestoreRequest, by: Principal): Promise<Task> {
    const req = M365RestoreRequestSchema.parse(input);
    const row = await this.available(id);
    if (row.tenant_id === null) throw conflict(`the tenant of this backup was removed from vPlus; add it again (directory ${row.directory}) to restore into it`, 'to');
    const tenant = (await this.d.tenants.byId(row.tenant_id))!;
    const backup = toM365Backup(row);
    const { part, paths } = this.drivePaths(backup.parts, req.paths);
    const target = await this.restoreTarget(row, part, req, tenant);
    const folder = req.folder === undefined ? m365RestoreFolderName(new Date()) : req.folder;
    const params: TaskParamsOf<'M365_RESTORE'> = {
      m365TenantId: tenant.id,
      destinationId: row.destination_id,
      m365BackupId: row.id,
      objectKey: part.objectKey,
      pointId: part.pointId,
      partKind: part.partKind,
      paths,
      target,
      folder,
      conflict: req.conflict,
    };
    const dest = (await this.d.destinations.byId(row.destination_id))!;
    const task = await this.d.engine.create({ type: 'M365_RESTORE', params, requiredNodeId: dest.node_id, subject: `m365-backup:${row.id}`, priority: 80, createdBy: by.user.username });
    await this.d.audit.record({
      actor: by.user.username,
      action: 'm365.restore',
      target: `m365-backup:${row.id}`,
      details: { subject: row.subject_name, drive: part.name, paths, to: target.label, folder, conflict: req.conflict, task: task.id },
    });
    return task;
  }

  // ---- what a task needs ------------------------------------------------------

  private async backupDispatch(p: TaskParamsOf<'M365_BACKUP'>): Promise<Record<string, unknown>> {
    const tenant = await this.d.tenants.byId(p.m365TenantId);
    const row = p.subject.kind === 'user' ? await this.d.inventory.userById(p.subject.id) : await this.d.inventory.siteById(p.subject.id);
    if (!tenant || !row) return {};
    const subject = (p.subject.kind === 'user' ? { kind: 'user', row } : { kind: 'site', row }) as Subject;
    return {
      tenant: await storedSettings(tenant, this.d.secrets),
      subjectGraphId: row.graph_id,
      subjectName: subject.kind === 'user' ? subject.row.upn : subject.row.name,
      parts: await this.partsOf(subject, tenant),
    };
  }

  /**
   * The parts a backup of the subject covers: a user's OneDrive, and their mail, calendars and
   * contacts when the last sync found a mailbox; a site's present libraries.
   */
  private async partsOf(subject: Subject, tenant: M365TenantRow): Promise<M365DrivePart[]> {
    if (subject.kind === 'user') {
      const u = subject.row;
      const parts: M365DrivePart[] = [];
      if (u.drive_id !== null) parts.push({ kind: 'drive', name: 'drive', driveId: u.drive_id, objectKey: m365DriveObjectKey(tenant.tenant_id, u.drive_id), label: `the OneDrive of ${u.upn}` });
      if (u.has_mailbox === 1) {
        for (const kind of M365_EXCHANGE_PARTS) {
          parts.push({ kind, name: kind, driveId: u.graph_id, objectKey: m365ExchangeObjectKey(tenant.tenant_id, kind, u.graph_id), label: `${EXCHANGE_LABELS[kind]} of ${u.upn}` });
        }
      }
      if (parts.length === 0) {
        const mailbox = u.has_mailbox === null ? ' (whether they have a mailbox is unknown: see the warning of the last sync)' : '';
        throw conflict(`${u.upn} has no OneDrive and no mailbox to back up${mailbox}; the last sync of tenant "${tenant.name}" found none`, 'user');
      }
      return parts;
    }
    const libraries = (await this.d.inventory.libraries(subject.row.id)).filter((l: LibraryRow) => l.present === 1);
    if (libraries.length === 0) throw conflict(`site "${subject.row.name}" has no document library to back up (sync tenant "${tenant.name}" if it has one now)`, 'site');
    return libraries.map((l) => ({ kind: 'drive' as const, name: l.name, driveId: l.drive_id, objectKey: m365DriveObjectKey(tenant.tenant_id, l.drive_id), label: `library ${l.name} of site ${subject.row.name}` }));
  }

  /** A finished backup: its points become a row of the catalog (a backup with no point is only a failed task). */
  private async record(task: Task, p: TaskParamsOf<'M365_BACKUP'>, r: TaskResultOf<'M365_BACKUP'> | null): Promise<void> {
    if (!r || r.points.length === 0) return;
    const tenant = await this.d.tenants.byId(p.m365TenantId);
    const row = p.subject.kind === 'user' ? await this.d.inventory.userById(p.subject.id) : await this.d.inventory.siteById(p.subject.id);
    const name = !row ? `#${p.subject.id}` : 'upn' in row ? row.upn : row.name;
    await this.d.backups.upsert({
      destinationId: p.destinationId,
      runId: r.runId,
      tenantId: tenant?.id ?? null,
      directory: tenant?.tenant_id ?? '',
      subject: { kind: p.subject.kind, graphId: row?.graph_id ?? '', name, userId: p.subject.kind === 'user' && row ? row.id : null, siteId: p.subject.kind === 'site' && row ? row.id : null },
      createdAt: new Date(r.points.reduce((min, x) => (x.createdAt < min ? x.createdAt : min), r.points[0]!.createdAt)),
      parts: r.points.map((x) => ({ name: x.part, partKind: x.partKind, driveId: x.driveId, objectKey: x.objectKey, pointId: x.pointId, kind: x.kind, items: x.items, files: x.files, folders: x.folders, bytes: x.bytes, storedBytes: x.storedBytes })),
      warnings: task.warnings,
      taskId: task.id,
    });
  }

  /** Points found on a destination alone, grouped back into backups by their run id; the catalog's tenants and objects are matched by Graph id. */
  private async reimport(destinationId: number, points: readonly RepoPoint[]): Promise<void> {
    const runs = new Map<string, { source: M365PointSource; points: { point: RepoPoint; part: string; partKind: M365PartKind; driveId: string }[] }>();
    for (const point of points) {
      const source = M365PointSourceSchema.safeParse(point.source);
      if (!source.success) continue; // a point of another kind of object (a VM's)
      const run = runs.get(source.data.runId) ?? { source: source.data, points: [] };
      run.points.push({ point, part: source.data.part, partKind: source.data.partKind, driveId: source.data.driveId });
      runs.set(source.data.runId, run);
    }
    const tenants = await this.d.tenants.list();
    let added = 0;
    for (const [runId, run] of runs) {
      const s = run.source;
      const tenant = tenants.find((t) => t.tenant_id.toLowerCase() === s.directory.toLowerCase());
      const subjectRows = tenant ? (s.subject.kind === 'user' ? await this.d.inventory.findUsers(s.subject.name, tenant.id) : await this.d.inventory.findSites(s.subject.name, tenant.id)) : [];
      const match = subjectRows.find((r) => r.graph_id === s.subject.graphId);
      const parts: M365BackupPart[] = run.points.map(({ point: pt, part, partKind, driveId }) => ({
        name: part, partKind, driveId, objectKey: pt.objectKey, pointId: pt.id, kind: pt.kind, items: pt.items, files: pt.files, folders: pt.folders, bytes: pt.bytes, storedBytes: pt.storedBytes,
      }));
      const r = await this.d.backups.upsert({
        destinationId,
        runId,
        tenantId: tenant?.id ?? null,
        directory: s.directory,
        subject: { kind: s.subject.kind, graphId: s.subject.graphId, name: s.subject.name, userId: s.subject.kind === 'user' ? (match?.id ?? null) : null, siteId: s.subject.kind === 'site' ? (match?.id ?? null) : null },
        createdAt: new Date(run.points.reduce((min, x) => (x.point.createdAt < min ? x.point.createdAt : min), run.points[0]!.point.createdAt)),
        parts,
        warnings: [],
        taskId: null,
      });
      if (r.added) added++;
    }
    this.d.logger.info({ destinationId, found: runs.size, added }, 're-imported Microsoft 365 backups');
  }

  // ---- lookups ------------------------------------------------------------------

  /** The paths as node paths inside one drive of the backup ("drive/Docs/a" → "/Docs/a"). */
  private drivePaths(parts: readonly M365BackupPart[], paths: readonly string[]): { part: M365BackupPart; paths: string[] } {
    let part: M365BackupPart | undefined;
    const out: string[] = [];
    for (const raw of paths) {
      const clean = raw.replace(/^\/+/, '').replace(/\/+$/, '');
      const [head = '', ...rest] = clean.split('/');
      if (rest.some((s) => s === '..' || s === '.' || s === '')) throw badRequest(`"${raw}" is not a path in the backup`, 'paths');
      const p = parts.find((x) => x.name === head);
      if (!p) throw badRequest(`"${raw}" is not in this backup: its paths start with ${parts.map((x) => `"${x.name}/"`).join(' or ')}`, 'paths');
      if (part && part !== p) throw badRequest('a restore takes paths of one part of the backup (a drive, a library, the mail, the calendars or the contacts); restore each on its own', 'paths');
      part = p;
      out.push(`/${rest.join('/')}`);
    }
    return { part: part!, paths: out.includes('/') ? ['/'] : out };
  }

  private async restoreTarget(row: M365BackupRow, part: M365BackupPart, req: ReturnType<typeof M365RestoreRequestSchema.parse>, tenant: M365TenantRow): Promise<TaskParamsOf<'M365_RESTORE'>['target']> {
    if (part.partKind !== 'drive') return this.mailboxTarget(row, part.partKind, req, tenant);
    if (req.to === undefined) {
      const id = row.subject_kind === 'user' ? row.user_id : row.site_id;
      if (id === null) throw conflict(`${row.subject_name} is no longer in the catalog of tenant "${tenant.name}"; restore to another user or site with "to"`, 'to');
      if (row.subject_kind === 'user') {
        const u = (await this.d.inventory.userById(id))!;
        return { kind: 'user', id, driveId: u.drive_id ?? part.driveId, label: `the OneDrive of ${u.upn}` };
      }
      const lib = (await this.d.inventory.libraries(id)).find((l) => l.drive_id === part.driveId && l.present === 1);
      if (!lib) throw conflict(`library ${part.name} of site ${row.subject_name} is gone; restore to another library with "toLibrary" or another site with "to"`, 'toLibrary');
      return { kind: 'site', id, driveId: lib.drive_id, label: `library ${lib.name} of site ${row.subject_name}` };
    }
    const asUser = req.to.includes('@') || /^\d+$/.test(req.to) ? (await this.d.inventory.findUsers(req.to, tenant.id)).filter((u) => u.present === 1) : [];
    if (asUser.length > 0 && req.toLibrary === undefined) {
      const u = asUser[0]!;
      if (u.drive_id === null) throw conflict(`${u.upn} has no OneDrive to restore into`, 'to');
      return { kind: 'user', id: u.id, driveId: u.drive_id, label: `the OneDrive of ${u.upn}` };
    }
    const site = (await this.d.inventory.findSites(req.to, tenant.id)).find((s) => s.present === 1);
    if (!site) throw notFound(`there is no user or site "${req.to}" in tenant "${tenant.name}"`, 'to');
    const name = req.toLibrary ?? part.name;
    const lib = (await this.d.inventory.libraries(site.id)).find((l) => l.present === 1 && l.name.toLowerCase() === name.toLowerCase());
    if (!lib) throw notFound(`site ${site.name} has no library "${name}"`, 'toLibrary');
    return { kind: 'site', id: site.id, driveId: lib.drive_id, label: `library ${lib.name} of site ${site.name}` };
  }

  /** Mail, calendars and contacts go to a user of the tenant with a mailbox: the original one, or `to`. */
  private async mailboxTarget(row: M365BackupRow, kind: Exclude<M365PartKind, 'drive'>, req: ReturnType<typeof M365RestoreRequestSchema.parse>, tenant: M365TenantRow): Promise<TaskParamsOf<'M365_RESTORE'>['target']> {
    if (req.toLibrary !== undefined) throw badRequest(`${EXCHANGE_LABELS[kind]} go to a user's mailbox, not to a library: leave out "toLibrary"`, 'toLibrary');
    let u: UserRow | undefined;
    if (req.to === undefined) {
      if (row.subject_kind !== 'user' || row.user_id === null) throw conflict(`${row.subject_name} is no longer in the catalog of tenant "${tenant.name}"; restore to another user with "to"`, 'to');
      u = await this.d.inventory.userById(row.user_id);
    } else {
      u = (await this.d.inventory.findUsers(req.to, tenant.id)).find((x) => x.present === 1);
      if (!u) throw notFound(`there is no user "${req.to}" in tenant "${tenant.name}" (${EXCHANGE_LABELS[kind]} of a backup go to a user's mailbox)`, 'to');
    }
    if (!u || u.present !== 1) throw conflict(`${row.subject_name} is no longer in tenant "${tenant.name}"; restore to another user with "to"`, 'to');
    if (u.has_mailbox !== 1) {
      const why = u.has_mailbox === null ? 'whether they have a mailbox is unknown (see the warning of the last sync)' : 'they have no Exchange Online mailbox';
      throw conflict(`${u.upn} cannot take ${EXCHANGE_LABELS[kind]} of ${row.subject_name}: ${why}; restore to a user with a mailbox`, 'to');
    }
    return { kind: 'user', id: u.id, driveId: u.graph_id, label: `${EXCHANGE_LABELS[kind]} of ${u.upn}` };
  }

  private async subject(s: { kind: 'user' | 'site'; ref: string }, tenantId?: number, present = true): Promise<Subject> {
    const rows = s.kind === 'user' ? await this.d.inventory.findUsers(s.ref, tenantId) : await this.d.inventory.findSites(s.ref, tenantId);
    const usable = present ? rows.filter((r) => r.present === 1) : rows;
    if (usable.length === 0) {
      const gone = rows.length > 0 ? ' any more (the last sync found it removed)' : '';
      throw notFound(`there is no ${s.kind === 'user' ? 'user' : 'site'} "${s.ref}"${gone}${tenantId === undefined ? ' in any tenant' : ''}`, s.kind);
    }
    const tenants = new Set(usable.map((r) => r.tenant_id));
    if (tenants.size > 1) throw conflict(`"${s.ref}" is in several tenants (${[...new Set(usable.map((r) => r.tenant_name))].join(', ')}); name the tenant`, 'tenant');
    return s.kind === 'user' ? { kind: 'user', row: usable[0] as UserRow } : { kind: 'site', row: usable[0] as SiteRow };
  }

  private async tenant(ref: string): Promise<M365TenantRow> {
    const row = await this.d.tenants.find(ref);
    if (!row) throw notFound(`there is no Microsoft 365 tenant "${ref}"`, 'tenant');
    return row;
  }

  private async require(id: number): Promise<M365BackupRow> {
    const row = await this.d.backups.byId(id);
    if (!row) throw notFound(`there is no Microsoft 365 backup ${id}`);
    return row;
  }

  private async available(id: number): Promise<M365BackupRow> {
    const row = await this.require(id);
    if (row.status === 'removed') throw conflict(`Microsoft 365 backup ${id} was removed by retention`, 'backup');
    return row;
  }
}
