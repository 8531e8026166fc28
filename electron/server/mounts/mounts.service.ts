/**
 * Mount sessions: a backup opened on its destination's node for browsing (every filesystem
 * mounted read-only) or exported over iSCSI, held open by a MOUNT task. The server keeps
 * the catalog's record, relays browsing and downloads to the node over its connection, and
 * audits every download and restore.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Backup } from '../../../common/api/backups.js';
import type {
  BrowseListQuery,
  BrowseListing,
  BrowseSearchRequest,
  BrowseSearchResult,
  BrowseSearchHit,
  IscsiStartRequest,
  IscsiStartResponse,
  Mount,
  MountRestoreRequest,
  MountStartRequest,
} from '../../../common/api/mounts.js';
import { IscsiStartRequestSchema, MountRestoreRequestSchema, MountStartRequestSchema } from '../../../common/api/mounts.js';
import type { Task } from '../../../common/api/tasks.js';
import type { Principal } from '../auth/auth.service.js';
import type { AuditService } from '../auth/audit.service.js';
import type { DestinationsRepository } from '../destinations/destinations.repository.js';
import { AppError, conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { RelayError, type StreamHead } from '../nodes/node-relay.js';
import type { MountReady, NodeSessions, PullMessage } from '../nodes/node-sessions.js';
import type { NodesRepository } from '../nodes/nodes.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import { toTask, type TasksRepository } from '../tasks/tasks.repository.js';
import { pipeline } from 'node:stream/promises';
import { CreditSink } from '../../../common/net/credit-sink.js';
import { ACTIVE_STATES, toMount, type MountRow, type MountsRepository } from './mounts.repository.js';

/** How long a request waits for an iSCSI export to come up (its CHAP password is in the answer). */
const ISCSI_START_TIMEOUT_MS = 120_000;
/** The catalog's last-used time is written at most this often per mount (the node keeps its own). */
const TOUCH_EVERY_MS = 30_000;

export interface MountsServiceDeps {
  repo: MountsRepository;
  destinations: DestinationsRepository;
  nodes: NodesRepository;
  sessions: NodeSessions;
  engine: TaskEngine;
  tasks: TasksRepository;
  audit: AuditService;
  bus: EventBus;
  logger: Logger;
}

export type ExchangeCallOp = 'mail.search' | 'mail.message' | 'calendar.events' | 'contacts.list';
export type ExchangeStreamOp = 'mail.preview' | 'mail.attachment' | 'export';

/** What a mount opened, as audit targets and task subjects name it. */
function backupRef(row: MountRow): string {
  return row.m365_backup_id !== null ? `m365-backup:${row.m365_backup_id}` : `backup:${row.backup_id}`;
}

/** A Microsoft 365 backup to browse: its drives' points on its destination. */
export interface M365Mountable {
  id: number;
  destinationId: number;
  runId: string;
  subjectName: string;
  parts: { name: string; objectKey: string; pointId: string }[];
}

export class MountsService {
  private readonly iscsiWaiters = new Map<number, (ready: MountReady['iscsi'] | Error) => void>();
  private readonly touchedAt = new Map<number, number>();
  /** Restores to other nodes in flight: what the server relays, by "<node>:<call id>". */
  private readonly pulls = new Map<string, { sink: CreditSink; body?: Readable }>();

  constructor(private readonly d: MountsServiceDeps) {
    d.sessions.onMountReady((nodeId, msg) => this.ready(nodeId, msg));
    d.sessions.onPull({ message: (nodeId, msg) => this.pull(nodeId, msg), nodeGone: (nodeId) => this.pullsGone(nodeId) });
    d.engine.listeners.on('MOUNT', async (task, params) => {
      const row = await d.repo.byId(params.mountId);
      if (!row || !ACTIVE_STATES.includes(row.state)) return;
      const failed = task.state === 'FAILED';
      await d.repo.setState(row.id, failed ? 'FAILED' : 'CLOSED', failed ? (task.error ?? 'the mount task failed') : null);
      this.iscsiWaiters.get(row.id)?.(new Error(task.error ?? `the mount ended (${task.state.toLowerCase()})`));
      await this.publish(row.id);
    });
  }

  /** After a restart: mounts whose task ended meanwhile are closed. */
  async init(): Promise<void> {
    await this.d.repo.reconcile();
  }

  async start(input: MountStartRequest, by: Principal): Promise<Mount> {
    const req = MountStartRequestSchema.parse(input);
    const backup = await this.mountableBackup(req.backup);
    const mount = await this.open('browse', backup, { disks: req.disks ?? null, overlay: req.overlay, idleSeconds: req.idleSeconds }, by);
    await this.d.audit.record({ actor: by.user.username, action: 'mount.start', target: `backup:${backup.id}`, details: { mount: mount.id, vm: backup.vm, node: mount.node } });
    return mount;
  }

  async startIscsi(input: IscsiStartRequest, by: Principal): Promise<IscsiStartResponse> {
    const req = IscsiStartRequestSchema.parse(input);
    const backup = await this.mountableBackup(req.backup);
    const iscsi = { disk: req.disk, initiatorNames: req.initiatorNames, initiatorAddresses: req.initiatorAddresses };
    let waiter: (ready: MountReady['iscsi'] | Error) => void = () => undefined;
    const waiting = new Promise<MountReady['iscsi'] | Error>((resolve) => (waiter = resolve));
    const mount = await this.open('iscsi', backup, { disks: [req.disk], overlay: false, idleSeconds: req.idleSeconds, iscsi, waiter }, by);
    await this.d.audit.record({
      actor: by.user.username,
      action: 'mount.iscsi',
      target: `backup:${backup.id}`,
      details: { mount: mount.id, disk: req.disk, initiatorNames: req.initiatorNames, initiatorAddresses: req.initiatorAddresses },
    });
    const timer = setTimeout(() => this.iscsiWaiters.get(mount.id)?.(new Error(`the export did not come up within ${ISCSI_START_TIMEOUT_MS / 1000} s`)), ISCSI_START_TIMEOUT_MS);
    const ready = await waiting.finally(() => {
      clearTimeout(timer);
      this.iscsiWaiters.delete(mount.id);
    });
    if (ready instanceof Error || !ready) {
      const message = ready instanceof Error ? ready.message : 'the node sent no iSCSI details';
      throw new AppError(502, 'ISCSI_EXPORT_FAILED', `exporting disk ${req.disk} of backup ${backup.id} over iSCSI failed: ${message}`);
    }
    const current = await this.get(mount.id);
    return { mount: current, portal: current.iscsi?.portal ?? ready.portal, target: ready.target, lun: ready.lun, chapUser: ready.chapUser, chapPassword: ready.chapPassword };
  }

  /**
   * Opens a Microsoft 365 backup for browsing: one folder per drive, served by the cloud
   * server's metadata on the destination's node. A browse mount of it already open is reused.
   */
  async startM365(backup: M365Mountable, idleSeconds: number, by: Principal): Promise<Mount> {
    const open = await this.d.repo.activeOfM365(backup.id);
    if (open) return toMount(open);
    const dest = await this.d.destinations.byId(backup.destinationId);
    if (!dest) throw notFound(`the destination of Microsoft 365 backup ${backup.id} is gone`);
    const id = await this.d.repo.insert({ kind: 'browse', backupId: null, m365BackupId: backup.id, nodeId: dest.node_id, disks: null, overlay: false, idleSeconds, createdBy: by.user.username });
    try {
      const task = await this.d.engine.create({
        type: 'MOUNT',
        params: { mountId: id, destinationId: dest.id, backupId: backup.runId, overlay: false, idleSeconds, m365: { parts: backup.parts.map((p) => ({ name: p.name, objectKey: p.objectKey, pointId: p.pointId })) } },
        subject: `m365-backup:${backup.id}`,
        requiredNodeId: dest.node_id,
        priority: 90,
        createdBy: by.user.username,
      });
      await this.d.repo.setTask(id, task.id);
    } catch (err) {
      await this.d.repo.setState(id, 'FAILED', err instanceof Error ? err.message : String(err));
      throw err;
    }
    await this.d.audit.record({ actor: by.user.username, action: 'mount.start', target: `m365-backup:${backup.id}`, details: { mount: id, subject: backup.subjectName, drives: backup.parts.map((p) => p.name) } });
    return this.publish(id);
  }

  private async open(
    kind: Mount['kind'],
    backup: Backup,
    o: {
      disks: string[] | null;
      overlay: boolean;
      idleSeconds: number;
      iscsi?: { disk: string; initiatorNames: string[]; initiatorAddresses: string[] };
      /** Hears the node's iSCSI details (with the CHAP password) once the export is up. */
      waiter?: (ready: MountReady['iscsi'] | Error) => void;
    },
    by: Principal,
  ): Promise<Mount> {
    const dest = await this.d.destinations.byId(backup.destinationId);
    if (!dest) throw notFound(`destination ${backup.destination} is gone`);
    const id = await this.d.repo.insert({ kind, backupId: backup.id, nodeId: dest.node_id, disks: o.disks, overlay: o.overlay, idleSeconds: o.idleSeconds, createdBy: by.user.username });
    if (o.waiter) this.iscsiWaiters.set(id, o.waiter);
    try {
      const task = await this.d.engine.create({
        type: 'MOUNT',
        params: {
          mountId: id,
          destinationId: dest.id,
          backupId: backup.repoBackupId,
          ...(o.disks ? { disks: o.disks } : {}),
          overlay: o.overlay,
          idleSeconds: o.idleSeconds,
          ...(o.iscsi ? { iscsi: o.iscsi } : {}),
        },
        subject: `backup:${backup.id}`,
        requiredNodeId: dest.node_id,
        priority: 90,
        createdBy: by.user.username,
      });
      await this.d.repo.setTask(id, task.id);
    } catch (err) {
      await this.d.repo.setState(id, 'FAILED', err instanceof Error ? err.message : String(err));
      throw err;
    }
    return this.publish(id);
  }

  private async mountableBackup(id: number): Promise<Backup> {
    const backup = (await this.d.destinations.listBackups({ id, limit: 1, offset: 0 }))[0];
    if (!backup) throw notFound(`there is no backup ${id}`);
    if (backup.status === 'removed') throw conflict(`backup ${id} was removed by retention`, 'backup');
    if (backup.status === 'missing') throw conflict(`backup ${id} is missing from destination ${backup.destination}: ${backup.statusDetail ?? 'its manifest is gone'}`, 'backup');
    if (backup.status === 'damaged') throw conflict(`backup ${id} is damaged (${backup.statusDetail ?? 'verify found damaged chunks'}); browse another backup`, 'backup');
    return backup;
  }

  private async ready(nodeId: number, msg: MountReady): Promise<void> {
    const row = await this.d.repo.byId(msg.mountId);
    if (!row || row.node_id !== nodeId || row.task_id !== msg.taskId) return;
    if (row.state === 'CLOSING') {
      // Closed while the node was away: it tells us the mount is still open as it reconnects.
      await this.d.sessions.relay.call(nodeId, row.id, 'close', {}).catch((err: unknown) => this.d.logger.warn({ err, mount: row.id }, 'closing a mount after its node reconnected failed'));
      return;
    }
    const { chapPassword, ...iscsi } = msg.iscsi ?? { chapPassword: '' };
    await this.d.repo.mounted(row.id, msg.filesystems, msg.iscsi ? (iscsi as NonNullable<Mount['iscsi']>) : null);
    if (msg.iscsi && chapPassword) this.iscsiWaiters.get(row.id)?.(msg.iscsi);
    await this.publish(row.id);
  }

  async list(activeOnly: boolean): Promise<Mount[]> {
    return (await this.d.repo.list(activeOnly)).map(toMount);
  }

  async get(id: number): Promise<Mount> {
    return toMount(await this.row(id));
  }

  private async row(id: number): Promise<MountRow> {
    const row = await this.d.repo.byId(id);
    if (!row) throw notFound(`there is no mount ${id}`);
    return row;
  }

  async extend(id: number, idleSeconds: number, by: Principal): Promise<Mount> {
    const row = await this.openRow(id);
    await this.relayed(() => this.d.sessions.relay.call(row.node_id, id, 'extend', { idleSeconds }));
    await this.d.repo.touch(id, idleSeconds);
    await this.d.audit.record({ actor: by.user.username, action: 'mount.extend', target: `mount:${id}`, details: { idleSeconds } });
    return this.publish(id);
  }

  async stop(id: number, by: Principal): Promise<Mount> {
    const row = await this.row(id);
    if (!ACTIVE_STATES.includes(row.state)) return toMount(row);
    await this.d.audit.record({ actor: by.user.username, action: 'mount.stop', target: `mount:${id}`, details: { backup: backupRef(row) } });
    if (row.state === 'MOUNTED') {
      await this.d.repo.setState(id, 'CLOSING');
      try {
        await this.d.sessions.relay.call(row.node_id, id, 'close', {});
      } catch (err) {
        // The node no longer has it open (a restart): its task ends with it.
        this.d.logger.warn({ err, mount: id }, 'closing a mount on its node failed; cancelling its task');
        if (row.task_id) await this.d.engine.cancel(row.task_id, false, by.user.username).catch(() => undefined);
      }
    } else if (row.task_id) {
      await this.d.repo.setState(id, 'CLOSING');
      await this.d.engine.cancel(row.task_id, false, by.user.username).catch(() => undefined);
    }
    return this.publish(id);
  }

  // ---- browsing -------------------------------------------------------------

  async listFiles(id: number, q: BrowseListQuery): Promise<BrowseListing> {
    const row = await this.openRow(id, true);
    return (await this.relayed(() => this.d.sessions.relay.call(row.node_id, id, 'list', { ...q }))) as BrowseListing;
  }

  async stat(id: number, path: string): Promise<BrowseSearchHit> {
    const row = await this.openRow(id, true);
    return (await this.relayed(() => this.d.sessions.relay.call(row.node_id, id, 'stat', { path }))) as BrowseSearchHit;
  }

  async search(id: number, q: BrowseSearchRequest): Promise<BrowseSearchResult> {
    const row = await this.openRow(id, true);
    return (await this.relayed(() => this.d.sessions.relay.call(row.node_id, id, 'search', { ...q }, 300_000))) as BrowseSearchResult;
  }

  /** A file's bytes (all, or an inclusive range); audited unless it is a preview's later range. */
  async read(id: number, path: string, range: { start?: number; end?: number }, audit: { by: Principal; download: boolean }): Promise<{ head: StreamHead; body: Readable }> {
    const row = await this.openRow(id, true);
    const opened = await this.relayed(() => this.d.sessions.relay.stream(row.node_id, id, 'read', { path, ...range }));
    if (audit.download || (range.start ?? 0) === 0) {
      await this.d.audit.record({
        actor: audit.by.user.username,
        action: audit.download ? 'mount.download' : 'mount.preview',
        target: backupRef(row),
        details: { mount: id, vm: row.vm, paths: [path], ...(range.start !== undefined || range.end !== undefined ? { range } : {}) },
      });
    }
    return opened;
  }

  async zip(id: number, paths: string[], by: Principal): Promise<{ head: StreamHead; body: Readable }> {
    const row = await this.openRow(id, true);
    const opened = await this.relayed(() => this.d.sessions.relay.stream(row.node_id, id, 'zip', { paths }));
    await this.d.audit.record({ actor: by.user.username, action: 'mount.download', target: backupRef(row), details: { mount: id, vm: row.vm, paths, zip: true } });
    return opened;
  }

  // ---- mail, calendars and contacts of a Microsoft 365 backup --------------------

  /** A question to the Exchange parts of a mount (a mail search, a message's details, events, contacts), answered from the metadata on its node. */
  async exchange(id: number, op: ExchangeCallOp, args: Record<string, unknown>): Promise<unknown> {
    const row = await this.openRow(id, true);
    return this.relayed(() => this.d.sessions.relay.call(row.node_id, id, op, args, 300_000));
  }

  /**
   * A message's preview, an attachment, or an export of mail, events or contacts, streamed
   * from the node; each audited as what it is (a preview, a download, an export).
   */
  async exchangeStream(id: number, op: ExchangeStreamOp, args: { paths: string[]; index?: number; format?: string }, by: Principal): Promise<{ head: StreamHead; body: Readable }> {
    const row = await this.openRow(id, true);
    const nodeArgs = op === 'export' ? { path: args.paths, format: args.format } : { path: args.paths[0], ...(args.index === undefined ? {} : { index: args.index }) };
    const opened = await this.relayed(() => this.d.sessions.relay.stream(row.node_id, id, op, nodeArgs));
    const action = op === 'mail.preview' ? 'mount.preview' : op === 'export' ? 'mount.export' : 'mount.download';
    await this.d.audit.record({
      actor: by.user.username,
      action,
      target: backupRef(row),
      details: { mount: id, vm: row.vm, paths: args.paths, ...(args.index === undefined ? {} : { attachment: args.index, name: opened.head.name ?? null }), ...(args.format === undefined ? {} : { format: args.format }) },
    });
    return opened;
  }

  async restore(id: number, input: MountRestoreRequest, by: Principal): Promise<Task> {
    const req = MountRestoreRequestSchema.parse(input);
    const row = await this.openRow(id, true);
    // Another node than the mount's: its task pulls the files through the server (a tar).
    let target = { id: row.node_id, name: row.node_name };
    if (req.node !== undefined) {
      const node = await this.d.nodes.byRef(req.node);
      if (!node) throw notFound(`there is no node "${req.node}"`);
      target = { id: node.id, name: node.name };
    }
    const task = await this.d.engine.create({
      type: 'FILE_RESTORE',
      params: { mountId: id, paths: req.paths, directory: req.path, overwrite: req.overwrite },
      subject: backupRef(row),
      requiredNodeId: target.id,
      priority: 80,
      createdBy: by.user.username,
    });
    await this.d.audit.record({
      actor: by.user.username,
      action: 'mount.restore',
      target: backupRef(row),
      details: { mount: id, vm: row.vm, paths: req.paths, node: target.name, directory: req.path, overwrite: req.overwrite, task: task.id },
    });
    return task;
  }

  /**
   * A FILE_RESTORE task on `nodeId` pulls files of a mount another node holds: only a running
   * restore of that node, for that mount and those paths, is served; the tar streams from
   * the mount's node to it, paced by the restoring node's credit.
   */
  private async pull(nodeId: number, msg: PullMessage): Promise<void> {
    const key = `${nodeId}:${msg.callId}`;
    if (msg.type === 'pull.credit') {
      this.pulls.get(key)?.sink.addCredit(msg.bytes);
      return;
    }
    if (msg.type === 'pull.cancel') {
      const p = this.pulls.get(key);
      this.pulls.delete(key);
      p?.body?.destroy();
      p?.sink.destroy();
      return;
    }
    const send = (m: Parameters<NonNullable<ReturnType<NodeSessions['get']>>['send']>[0]) => this.d.sessions.get(nodeId)?.send(m);
    try {
      const row = await this.d.tasks.get(msg.taskId);
      const task = row ? toTask(row) : undefined;
      const asked = task?.params as { mountId?: number; paths?: string[] } | undefined;
      if (!task || task.type !== 'FILE_RESTORE' || task.state !== 'RUNNING' || task.nodeId !== nodeId || asked?.mountId !== msg.mountId || JSON.stringify(asked.paths) !== JSON.stringify(msg.paths)) {
        throw new AppError(403, 'FORBIDDEN', 'no running restore of this node asks for these files');
      }
      const mount = await this.openRow(msg.mountId, true);
      const entry: { sink: CreditSink; body?: Readable } = { sink: new CreditSink(msg.callId, msg.credit, (frame) => this.d.sessions.sendFrame(nodeId, frame)) };
      this.pulls.set(key, entry);
      const { head, body } = await this.relayed(() => this.d.sessions.relay.stream(mount.node_id, mount.id, 'tar', { paths: msg.paths }));
      entry.body = body;
      if (!this.pulls.has(key)) {
        body.destroy();
        return;
      }
      send({ type: 'pull.head', callId: msg.callId, bytesTotal: head.size ?? 0, entries: head.entries ?? 0 });
      await pipeline(body, entry.sink);
      send({ type: 'pull.end', callId: msg.callId });
    } catch (err) {
      const e = err as { code?: string; message?: string; field?: string };
      if (this.pulls.has(key) || !(err instanceof Error && /cancel|premature/i.test(err.message))) {
        send({ type: 'pull.end', callId: msg.callId, error: { code: e.code ?? 'RELAY_FAILED', message: e.message ?? String(err) } });
      }
    } finally {
      this.pulls.delete(key);
    }
  }

  private pullsGone(nodeId: number): void {
    for (const [key, p] of this.pulls) {
      if (!key.startsWith(`${nodeId}:`)) continue;
      this.pulls.delete(key);
      p.body?.destroy();
      p.sink.destroy();
    }
  }

  private async openRow(id: number, touch = false): Promise<MountRow> {
    const row = await this.row(id);
    if (row.state === 'MOUNTING') throw conflict(`mount ${id} is still being opened; wait until it is mounted`);
    if (row.state !== 'MOUNTED') throw conflict(`mount ${id} is ${row.state.toLowerCase()}; start a new one`);
    if (touch) {
      const last = this.touchedAt.get(id) ?? 0;
      if (Date.now() - last > TOUCH_EVERY_MS) {
        this.touchedAt.set(id, Date.now());
        await this.d.repo.touch(id);
      }
    }
    return row;
  }

  private async relayed<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RelayError) throw relayToHttp(err);
      throw err;
    }
  }

  private async publish(id: number): Promise<Mount> {
    const mount = await this.get(id);
    this.d.bus.publish({ type: 'mount', mount });
    return mount;
  }
}

/** The node's browse errors as HTTP answers naming what was wrong. */
export function relayToHttp(err: RelayError): AppError {
  const status: Record<string, number> = {
    PATH_ESCAPE: 403,
    NOT_FOUND: 404,
    NOT_A_DIRECTORY: 400,
    NOT_A_FILE: 400,
    SYMLINK_LOOP: 400,
    INVALID_ARGUMENT: 400,
    INVALID_RANGE: 416,
    EXISTS: 409,
    NOT_READABLE: 409,
    MOUNT_NOT_OPEN: 409,
    NODE_OFFLINE: 503,
    NODE_TIMEOUT: 504,
  };
  return new AppError(status[err.code] ?? 502, err.code, err.message, err.path !== undefined ? 'path' : undefined);
}
