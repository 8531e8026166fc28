import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import type { CheckS3Destination, CreateDestination, CreatedDestination, Destination, ResetDestinationPassword, Retention, S3CheckAnswer, UpdateS3Credentials } from '../../../common/api/destinations.js';
import { s3DisplayName, type S3Repository } from '../../../common/s3-location.js';
import { DestinationCheckResultSchema } from '../../../common/api/destinations.js';
import type { Task, TaskType } from '../../../common/api/tasks.js';
import type { TaskResultOf } from '../../../common/task-contracts.js';
import { sameName } from '../../../common/names.js';
import type { AuditService } from '../auth/audit.service.js';
import type { Principal } from '../auth/auth.service.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { RelayError } from '../nodes/node-relay.js';
import type { NodeSessions } from '../nodes/node-sessions.js';
import type { NodesRepository } from '../nodes/nodes.repository.js';
import type { SecretsRepository } from '../security/secrets.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import { s3PlaceOf, toDestination, type DestinationRow, type DestinationsRepository, type S3StoredPlace } from './destinations.repository.js';

const secretName = (id: number): string => `destination:${id}`;
/** An S3 destination's secret key, sealed like the repository password. */
const s3SecretName = (id: number): string => `destination:${id}:s3-secret`;

/**
 * How a node reaches a destination's repository: the directory, or (S3) the place shown to
 * people as `path` plus the bucket and its credentials; with the password when encrypted.
 * What every task on the destination gets as `repository` (and a COPY as `source`/`target`).
 */
export interface RepositoryParams {
  path: string;
  password?: string;
  s3?: S3Repository;
}

/** Where a repository is, for node calls: no password. */
type RepositoryRef = Pick<RepositoryParams, 'path' | 's3'>;

/**
 * The field of an S3 destination's form a check's failure is about, from the node's sentence
 * (a task keeps its message only): credentials, the bucket, the certificate, the endpoint, the lock.
 */
export function s3FieldOf(message: string): string | undefined {
  const rules: [RegExp, string][] = [
    [/password/i, 'password'],
    [/does not know the access key|InvalidAccessKeyId/i, 's3.accessKeyId'],
    [/secret key|SignatureDoesNotMatch/i, 's3.secretAccessKey'],
    [/^access key .* may not|access denied|grant it/i, 's3.accessKeyId'],
    [/bucket \S+ does not exist|NoSuchBucket|bucket must/i, 's3.bucket'],
    [/object lock|immutability/i, 's3.lock'],
    [/not in region|region/i, 's3.region'],
    [/prefix|no vPlus repository|already holds other objects|repository already exists/i, 's3.prefix'],
    [/certificate .* not trusted|CA\b|caPem/i, 's3.caPem'],
    [/resolve|DNS|refused the connection|closed the connection|did not answer|cannot be reached|certificate|TLS|endpoint/i, 's3.endpoint'],
  ];
  return rules.find(([re]) => re.test(message))?.[1];
}
const CHECK_TIMEOUT_MS = 120_000;
/** The node opens the new repository (one scrypt) to print its recovery key. */
const RECOVERY_KEY_TIMEOUT_MS = 30_000;
/** The node wraps the master key for the new password and reads it back (two scrypts, a config rewrite on a share). */
const RESET_PASSWORD_TIMEOUT_MS = 60_000;
/** What the node says about the repository's path or its files when it cannot set a new password there. */
const REPOSITORY_PATH_CODES = new Set([
  'REPO_PATH_MISSING',
  'REPO_NOT_A_REPOSITORY',
  'REPO_CONFIG_CORRUPT',
  'REPO_UNSUPPORTED_VERSION',
  'REPO_READ_ONLY',
  'REPO_PERMISSION_DENIED',
  'REPO_NO_SPACE',
  'REPO_IO_ERROR',
]);

/** Task types whose node works on the destination's repository: they get its path and password at dispatch. */
const REPOSITORY_TASKS = ['DESTINATION_CHECK', 'VERIFY', 'PRUNE', 'GC', 'REIMPORT', 'EXPORT', 'STORE', 'RESTORE', 'MOUNT', 'BACKUP_DELETE', 'M365_BACKUP', 'M365_RESTORE'] as const;

/**
 * Backup destinations: a directory on a node holding a repository. The server
 * never touches the data; every operation is a task on the destination's node.
 * The repository password is kept encrypted in the catalog and only travels in
 * the message that assigns a task to that node.
 */
export class DestinationsService {
  /** Rows inserted for a creation whose check has not ended: not a destination yet, so in no list and no event. */
  private readonly creating = new Set<number>();
  /** Repositories (node id + path) whose password a request is setting now: one at a time. */
  private readonly resetting = new Set<string>();
  /** S3 destinations whose keys a request is changing now. */
  private readonly rotating = new Set<number>();

  constructor(
    private readonly destinations: DestinationsRepository,
    private readonly nodes: NodesRepository,
    private readonly sessions: NodeSessions,
    private readonly secrets: SecretsRepository,
    private readonly engine: TaskEngine,
    private readonly audit: AuditService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {
    const l = engine.listeners;
    l.onDispatch(REPOSITORY_TASKS, (_task, params) => this.repositoryParams(params.destinationId));
    l.on('DESTINATION_CHECK', (task, p, r) => this.after(task, p.destinationId, r && (() => this.destinations.recordStats(p.destinationId, r.stats, { freeBytes: r.freeBytes, totalBytes: r.totalBytes }))));
    l.on('VERIFY', (task, p, r) => this.after(task, p.destinationId, r && (() => this.verified(p.destinationId, task, r))));
    l.on('PRUNE', (task, p, r) => this.after(task, p.destinationId, r && (() => this.pruned(p.destinationId, r))));
    l.on('GC', (task, p, r) => this.after(task, p.destinationId, r && (() => this.destinations.recordStats(p.destinationId, r.stats))));
    l.on('REIMPORT', (task, p, r) => this.after(task, p.destinationId, r && (() => this.reimported(p.destinationId, r))));
  }

  async list(): Promise<Destination[]> {
    return (await this.destinations.list()).filter((row) => !this.creating.has(row.id)).map(toDestination);
  }

  async get(ref: string): Promise<Destination> {
    return toDestination(await this.require(ref));
  }

  /** Checks the path on the node (and creates or opens the repository there) before the destination exists. */
  async create(req: CreateDestination, by: Principal): Promise<CreatedDestination> {
    const node = await this.nodes.byRef(req.node);
    if (!node) throw notFound(`there is no node "${req.node}"`);
    if (!this.sessions.get(node.id)) throw conflict(`node "${node.name}" is offline; the path can only be checked on a running node`, 'node');
    const all = await this.destinations.list();
    const same = all.find((d) => sameName(d.name, req.name));
    if (same) throw conflict(`a destination named "${same.name}" already exists`, 'name');
    const { s3: s3Request, ...rest } = req;
    const s3 = s3Request ? { ...s3Request } : undefined;
    const place: S3StoredPlace | undefined = s3 && (({ secretAccessKey: _secret, ...p }) => p)(s3);
    const path = place ? s3DisplayName(place) : (rest.path ?? '');
    if (!place && !rest.path) throw badRequest('give either a path (a directory on the node) or s3 (a bucket of an S3-compatible store)', 'path');
    if (place) {
      // Two destinations on one place would each prune and collect the other's data: one repository, one destination.
      const twin = all.find((d) => d.kind === 's3' && samePlace(s3PlaceOf(d), place));
      if (twin) throw conflict(`destination "${twin.name}" is at ${path} already`, 's3.prefix');
    } else if ((await this.destinations.onNode(node.id)).some((d) => d.kind === 'directory' && d.path === path)) {
      throw conflict(`node "${node.name}" already has a destination at ${path}`, 'path');
    }
    const where: RepositoryRef = { path, ...(s3 ? { s3 } : {}) };
    const pathField = place ? undefined : 'path';

    // The password lost, the recovery key kept: the node sets the new password first, then the
    // repository is opened with it like any other.
    const recovering = req.recoveryKey !== undefined;
    if (req.recoveryKey !== undefined) {
      if (req.password === undefined) throw badRequest('give the new password for the repository opened with the recovery key', 'password');
      const repositoryId = await this.resetOnNode(node, where, req.recoveryKey, req.password, pathField);
      await this.audit.record({
        actor: by.user.username,
        action: 'destination.password_reset',
        target: `destination:${req.name}`,
        details: { node: node.name, path, repositoryId, with: 'recovery key', adding: true },
      });
    }

    const id = await this.destinations.insert({ name: req.name, nodeId: node.id, path, encrypted: req.password !== undefined, ...(place ? { s3: place } : {}) });
    this.creating.add(id);
    try {
      if (req.password) await this.secrets.put(secretName(id), req.password);
      if (s3) await this.secrets.put(s3SecretName(id), s3.secretAccessKey);
      // Opened with a recovery key, the repository must be there: never create one instead.
      const task = await this.engine.create({ type: 'DESTINATION_CHECK', params: { destinationId: id, create: !recovering }, requiredNodeId: node.id, subject: `destination:${req.name}`, priority: 95, createdBy: by.user.username });
      const done = await this.engine.waitForEnd(task.id, CHECK_TIMEOUT_MS).catch(async (err: unknown) => {
        await this.engine.cancel(task.id, true, 'system').catch((err: unknown) => this.logger.warn({ err, taskId: task.id }, 'could not cancel a destination check that timed out'));
        throw err;
      });
      if (done.state !== 'FINISHED' && done.state !== 'FINISHED_WITH_WARNINGS') {
        const message = done.error ?? `checking ${path} on node "${node.name}" did not succeed`;
        throw new AppError(400, 'DESTINATION_CHECK_FAILED', message, checkFailureField(message, place !== undefined));
      }
    } catch (err) {
      // A refused destination leaves no trace: no row, no secret, and it was never announced.
      await this.secrets.delete(secretName(id));
      await this.secrets.delete(s3SecretName(id));
      await this.destinations.delete(id);
      // The new password is on the repository already: say so, or the admin would try the old one.
      if (recovering && err instanceof AppError) {
        throw new AppError(err.statusCode, err.code, `${err.message.replace(/\.$/, '')} (the repository's new password is set already: use it, or the recovery key, next time)`, err.field);
      }
      throw err;
    } finally {
      this.creating.delete(id);
    }
    await this.audit.record({
      actor: by.user.username,
      action: 'destination.create',
      target: `destination:${req.name}`,
      details: {
        node: node.name,
        path,
        ...(place ? { kind: 's3', endpoint: place.endpoint ?? null, bucket: place.bucket, prefix: place.prefix, accessKeyId: place.accessKeyId, lock: place.lock ?? null } : {}),
        encrypted: req.password !== undefined,
        ...(recovering ? { openedWithRecoveryKey: true } : {}),
      },
    });
    const destination = await this.publish(id);
    // Opened with its recovery key, the repository keeps that key: whoever added it holds it already.
    const recoveryKey = req.password === undefined || recovering ? undefined : await this.recoveryKey(node.id, where, req.password);
    return recoveryKey === undefined ? destination : { ...destination, recoveryKey };
  }

  /**
   * The form's Check for an S3 destination: its node reaches the store and opens the
   * repository under the prefix with the password (or finds the prefix without one). A
   * hidden row lives for the check's length only, so the task gets the place and the secrets
   * at dispatch like any destination task; nothing stays behind.
   */
  async checkS3(req: CheckS3Destination, by: Principal): Promise<S3CheckAnswer> {
    const node = await this.nodes.byRef(req.node);
    if (!node) throw notFound(`there is no node "${req.node}"`, 'node');
    if (!this.sessions.get(node.id)) throw conflict(`node "${node.name}" is offline; the bucket can only be checked from a running node`, 'node');
    const { secretAccessKey, ...place } = req.s3;
    const path = s3DisplayName(place);
    const id = await this.destinations.insert({ name: `~check-${randomBytes(6).toString('hex')}`, nodeId: node.id, path, encrypted: req.password !== undefined, s3: place });
    this.creating.add(id);
    try {
      if (req.password) await this.secrets.put(secretName(id), req.password);
      await this.secrets.put(s3SecretName(id), secretAccessKey);
      const task = await this.engine.create({ type: 'DESTINATION_CHECK', params: { destinationId: id, create: false, probe: true }, requiredNodeId: node.id, subject: `s3:${path}`, priority: 95, createdBy: by.user.username });
      const done = await this.engine.waitForEnd(task.id, CHECK_TIMEOUT_MS).catch(async (err: unknown) => {
        await this.engine.cancel(task.id, true, 'system').catch((cancelErr: unknown) => this.logger.warn({ err: cancelErr, taskId: task.id }, 'could not cancel an S3 check that timed out'));
        throw err;
      });
      if (done.state !== 'FINISHED' && done.state !== 'FINISHED_WITH_WARNINGS') {
        const message = done.error ?? `checking ${path} from node "${node.name}" did not succeed`;
        throw new AppError(400, 'DESTINATION_CHECK_FAILED', message, checkFailureField(message, true));
      }
      const r = DestinationCheckResultSchema.parse(done.result);
      if (r.empty) return { repository: 'empty', encrypted: null, backups: null, message: `node ${node.name} reached ${path}: there is no repository there yet; adding the destination creates one` };
      return {
        repository: 'found',
        encrypted: r.encrypted,
        backups: r.stats.backups,
        message: `node ${node.name} opened the ${r.encrypted ? 'encrypted' : 'unencrypted'} repository at ${path}, holding ${r.stats.backups} backup${r.stats.backups === 1 ? '' : 's'}`,
      };
    } finally {
      await this.secrets.delete(secretName(id));
      await this.secrets.delete(s3SecretName(id));
      await this.destinations.delete(id);
      this.creating.delete(id);
    }
  }

  /**
   * The catalog's password no longer opens the destination's repository (lost, or changed from
   * another server): its node opens the repository with the recovery key and sets the new
   * password in place of the old one, the catalog keeps the new one, and the destination is
   * checked again with it, so its state is right when this answers.
   */
  async resetPassword(ref: string, req: ResetDestinationPassword, by: Principal): Promise<Destination> {
    const row = await this.require(ref);
    if (row.encrypted !== 1) throw conflict(`destination "${row.name}" is not encrypted: it has no password to reset`);
    if (!this.sessions.get(row.node_id)) throw conflict(`node "${row.node_name}" is offline; only the destination's node can set a new password on its repository`);
    const located = await this.repositoryOf(row.id);
    if (!located) throw notFound(`there is no destination "${ref}"`);
    const repositoryId = await this.resetOnNode({ id: row.node_id, name: row.node_name }, { path: located.path, ...(located.s3 ? { s3: located.s3 } : {}) }, req.recoveryKey, req.password);
    await this.secrets.put(secretName(row.id), req.password);
    await this.audit.record({
      actor: by.user.username,
      action: 'destination.password_reset',
      target: `destination:${row.name}`,
      details: { node: row.node_name, path: row.path, repositoryId, with: 'recovery key' },
    });
    const task = await this.engine.create({
      type: 'DESTINATION_CHECK',
      params: { destinationId: row.id, create: false },
      requiredNodeId: row.node_id,
      subject: `destination:${row.name}`,
      priority: 95,
      createdBy: by.user.username,
    });
    // The check's listener records what it finds (ok, or why not); a slow one still does, later.
    await this.engine.waitForEnd(task.id, CHECK_TIMEOUT_MS).catch((err: unknown) => this.logger.warn({ err, taskId: task.id }, 'the check after a password reset did not end in time'));
    return this.publish(row.id);
  }

  /**
   * Has the node open the repository at `path` with its recovery key and set `password` (a node
   * call: the key and the password go into no task, catalog row or log). Returns the
   * repository's id; refusals name the field they are about.
   */
  private async resetOnNode(node: { id: number; name: string }, repository: RepositoryRef, recoveryKey: string, password: string, pathField?: 'path'): Promise<string> {
    const path = repository.path;
    const where = repository.s3 ? `s3:${path}` : `${node.id}:${path}`;
    if (this.resetting.has(where)) throw conflict(`a new password is being set on the repository at ${path} on node "${node.name}" right now; wait for that to end`);
    this.resetting.add(where);
    try {
      const answer = await this.sessions.relay.nodeCall(node.id, { op: 'repository.resetPassword', args: { ...repository, recoveryKey, password } }, RESET_PASSWORD_TIMEOUT_MS);
      this.logger.info({ nodeId: node.id, path, repositoryId: answer.repositoryId }, 'repository password reset with its recovery key');
      return answer.repositoryId;
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      throw resetRefusal(err, node.name, path, pathField);
    } finally {
      this.resetting.delete(where);
    }
  }

  /**
   * The new repository's recovery key, asked of its node once and handed to whoever added it:
   * never stored, logged or put in a task. The destination works without it, so a node that
   * cannot answer costs only the key (logged, without the key).
   */
  private async recoveryKey(nodeId: number, repository: RepositoryRef, password: string): Promise<string | undefined> {
    try {
      const answer = await this.sessions.relay.nodeCall(nodeId, { op: 'repository.recoveryKey', args: { ...repository, password } }, RECOVERY_KEY_TIMEOUT_MS);
      return answer.recoveryKey;
    } catch (err) {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err), nodeId, path: repository.path }, 'the node could not give the new repository\'s recovery key');
      return undefined;
    }
  }

  async rename(ref: string, name: string, by: Principal): Promise<Destination> {
    const row = await this.require(ref);
    const same = (await this.destinations.list()).find((d) => d.id !== row.id && sameName(d.name, name));
    if (same) throw conflict(`a destination named "${same.name}" already exists`, 'name');
    await this.destinations.rename(row.id, name);
    await this.audit.record({ actor: by.user.username, action: 'destination.rename', target: `destination:${row.name}`, details: { to: name } });
    return this.publish(row.id);
  }

  /** Forgets the destination; the repository and its data stay where they are. */
  async remove(ref: string, force: boolean, by: Principal): Promise<void> {
    const row = await this.require(ref);
    const backups = await this.destinations.countBackups(row.id);
    if (backups > 0 && !force) {
      throw conflict(`the catalog lists ${backups} backups on "${row.name}"; remove it with force to forget them too (the data on the destination stays)`);
    }
    await this.secrets.delete(secretName(row.id));
    await this.secrets.delete(s3SecretName(row.id));
    await this.destinations.delete(row.id);
    await this.audit.record({ actor: by.user.username, action: 'destination.remove', target: `destination:${row.name}`, details: { force, backups } });
    this.bus.publish({ type: 'destination.removed', destinationId: row.id });
  }

  async usage(ref: string): Promise<{ at: string; storedBytes: number; logicalBytes: number; backups: number }[]> {
    return this.destinations.usage((await this.require(ref)).id);
  }

  verify(ref: string, subset: { part: number; of: number } | undefined, by: Principal): Promise<Task> {
    return this.run(ref, 'VERIFY', subset ? { subset } : {}, by, 40);
  }

  prune(ref: string, retention: Retention, dryRun: boolean, by: Principal): Promise<Task> {
    return this.run(ref, 'PRUNE', { retention, dryRun }, by, 50);
  }

  gc(ref: string, graceHours: number, by: Principal): Promise<Task> {
    return this.run(ref, 'GC', { graceHours }, by, 30);
  }

  reimport(ref: string, by: Principal): Promise<Task> {
    return this.run(ref, 'REIMPORT', {}, by, 60);
  }

  refresh(ref: string, by: Principal): Promise<Task> {
    return this.run(ref, 'DESTINATION_CHECK', { create: false }, by, 60);
  }

  private async run(ref: string, type: TaskType, params: Record<string, unknown>, by: Principal, priority: number): Promise<Task> {
    const row = await this.require(ref);
    const task = await this.engine.create({
      type,
      params: { destinationId: row.id, ...params },
      requiredNodeId: row.node_id,
      subject: `destination:${row.name}`,
      priority,
      createdBy: by.user.username,
    });
    await this.audit.record({ actor: by.user.username, action: `destination.${type.toLowerCase()}`, target: `destination:${row.name}`, details: { taskId: task.id, ...params } });
    return task;
  }

  /** Adds the repository location and password to a destination task's message to its node (never stored in the task). */
  private async repositoryParams(id: number): Promise<Record<string, unknown>> {
    const repository = await this.repositoryOf(id);
    return repository ? { repository } : {};
  }

  /**
   * How a node opens destination `id`'s repository, with the decrypted password and (S3) the
   * secret key: only for a task's or a node call's message to its node, never stored or
   * logged. Undefined when the destination is gone.
   */
  async repositoryOf(id: number): Promise<RepositoryParams | undefined> {
    const row = await this.destinations.byId(id);
    if (!row) return undefined;
    const password = row.encrypted === 1 ? await this.secrets.get(secretName(row.id)) : undefined;
    const place = s3PlaceOf(row);
    let s3: S3Repository | undefined;
    if (place) {
      const secretAccessKey = await this.secrets.get(s3SecretName(row.id));
      if (secretAccessKey === undefined) throw conflict(`destination "${row.name}" has lost its S3 secret key; give it again (vplus destination s3-credentials ${row.name})`);
      s3 = { ...place, secretAccessKey };
    }
    return { path: row.path, ...(password !== undefined ? { password } : {}), ...(s3 ? { s3 } : {}) };
  }

  /**
   * Key rotation on an S3 destination: the new key pair is tried by a check of the repository
   * first and kept only when the check passes; otherwise the old one stays and the answer says
   * what is wrong, on the field it is about.
   */
  async updateS3Credentials(ref: string, req: UpdateS3Credentials, by: Principal): Promise<Destination> {
    const row = await this.require(ref);
    const place = s3PlaceOf(row);
    if (!place) throw conflict(`destination "${row.name}" is a directory on node "${row.node_name}", not an S3 bucket: it has no S3 keys`);
    if (!this.sessions.get(row.node_id)) throw conflict(`node "${row.node_name}" is offline; the new keys can only be checked from a running node`);
    if (this.rotating.has(row.id)) throw conflict(`the keys of destination "${row.name}" are being changed right now; wait for that to end`);
    this.rotating.add(row.id);
    const oldSecret = await this.secrets.get(s3SecretName(row.id));
    try {
      await this.destinations.setS3AccessKey(row.id, req.accessKeyId);
      await this.secrets.put(s3SecretName(row.id), req.secretAccessKey);
      const task = await this.engine.create({ type: 'DESTINATION_CHECK', params: { destinationId: row.id, create: false }, requiredNodeId: row.node_id, subject: `destination:${row.name}`, priority: 95, createdBy: by.user.username });
      const done = await this.engine.waitForEnd(task.id, CHECK_TIMEOUT_MS);
      if (done.state !== 'FINISHED' && done.state !== 'FINISHED_WITH_WARNINGS') {
        const message = done.error ?? `checking ${row.path} with the new keys did not succeed`;
        throw new AppError(400, 'DESTINATION_CHECK_FAILED', `${message.replace(/\.$/, '')} (the old keys are kept)`, checkFailureField(message, true));
      }
    } catch (err) {
      await this.destinations.setS3AccessKey(row.id, place.accessKeyId);
      if (oldSecret !== undefined) await this.secrets.put(s3SecretName(row.id), oldSecret);
      throw err;
    } finally {
      this.rotating.delete(row.id);
    }
    await this.audit.record({ actor: by.user.username, action: 'destination.s3_credentials', target: `destination:${row.name}`, details: { accessKeyId: req.accessKeyId, previousAccessKeyId: place.accessKeyId } });
    return this.publish(row.id);
  }

  /**
   * Keeps the catalog in step with what a destination task found: `record` applies its result;
   * a failure marks the destination (a failed verify is about backups, not the destination
   * being unusable, but still shows there).
   */
  private async after(task: Task, id: number, record: (() => Promise<void>) | null): Promise<void> {
    if (!(await this.destinations.byId(id))) return;
    if (record) await record();
    // The check of a destination being created: its creation answers (and announces it) or removes it.
    if (this.creating.has(id)) return;
    if (task.state === 'FAILED') await this.destinations.setStatus(id, 'error', task.error);
    if (await this.destinations.byId(id)) await this.publish(id);
  }

  private async verified(id: number, task: Task, r: TaskResultOf<'VERIFY'>): Promise<void> {
    await this.destinations.recordStats(id, r.stats);
    await this.reconcile(id, task, r);
  }

  private async pruned(id: number, r: TaskResultOf<'PRUNE'>): Promise<void> {
    await this.destinations.recordStats(id, r.stats);
    if (r.dryRun) return;
    await this.destinations.markRemoved(id, r.removed.map((b) => b.id));
    await this.destinations.refreshBackupCount(id);
    this.bus.publish({ type: 'backups.changed', destinationId: id });
  }

  private async reimported(id: number, r: TaskResultOf<'REIMPORT'>): Promise<void> {
    await this.destinations.recordStats(id, r.stats);
    const added = await this.destinations.upsertBackups(id, r.backups);
    await this.destinations.refreshBackupCount(id);
    this.logger.info({ destinationId: id, found: r.backups.length, added }, 're-imported backups');
    this.bus.publish({ type: 'backups.changed', destinationId: id });
  }

  /**
   * Verify tells the truth about every backup: catalog entries become damaged, missing or
   * available again; backups on the destination the catalog does not know are re-imported.
   */
  private async reconcile(id: number, task: Task, r: TaskResultOf<'VERIFY'>): Promise<void> {
    if (!r.backups) return; // a node of an older version: nothing to reconcile with
    const damagedChunks = new Map<string, number>();
    for (const p of r.problems) for (const b of p.backups) damagedChunks.set(b, (damagedChunks.get(b) ?? 0) + 1);
    const outcome = await this.destinations.reconcileVerify(id, {
      present: new Set(r.backups),
      damagedChunks,
      damagedManifests: new Map((r.damagedManifests ?? []).map((m) => [m.backup, m.detail])),
      complete: !r.subset,
      at: task.finishedAt ? new Date(task.finishedAt) : new Date(),
    });
    this.logger.info({ destinationId: id, taskId: task.id, damaged: outcome.damaged.length, missing: outcome.missing.length, intact: outcome.intact, unknown: outcome.unknown.length }, 'verify reconciled with the catalog');
    if (outcome.unknown.length > 0) {
      // Backups the catalog lost (or another server made): take them in.
      const row = await this.destinations.byId(id);
      if (row) {
        await this.engine.create({ type: 'REIMPORT', params: { destinationId: id }, requiredNodeId: row.node_id, subject: `destination:${row.name}`, priority: 60, createdBy: 'system' });
      }
    }
    await this.destinations.refreshBackupCount(id);
    this.bus.publish({ type: 'backups.changed', destinationId: id });
  }

  private async require(ref: string): Promise<DestinationRow> {
    const row = await this.destinations.byRef(ref);
    if (!row) throw notFound(`there is no destination "${ref}"`);
    return row;
  }

  private async publish(id: number): Promise<Destination> {
    const row = await this.destinations.byId(id);
    if (!row) throw notFound(`there is no destination ${id}`);
    const destination = toDestination(row);
    this.bus.publish({ type: 'destination', destination });
    return destination;
  }
}

/** The node's refusal to set a new password, as the API answers it: on the field it is about where there is one. */
function resetRefusal(err: RelayError, node: string, path: string, pathField: 'path' | undefined): AppError {
  switch (err.code) {
    case 'REPO_RECOVERY_KEY_INVALID':
      return new AppError(400, 'RECOVERY_KEY_INVALID', err.message, 'recoveryKey');
    case 'REPO_NOT_ENCRYPTED':
      return new AppError(400, 'REPOSITORY_NOT_ENCRYPTED', `the repository at ${path} on node ${node} is not encrypted, so it has no password to reset: add it without a recovery key or password`, 'recoveryKey');
    case 'NODE_OFFLINE':
      return conflict(`node "${node}" is offline; only a running node can set a new password on its repository`, pathField ? 'node' : undefined);
    case 'NODE_TIMEOUT':
      return new AppError(504, 'NODE_TIMEOUT', `node "${node}" did not set the new password within ${RESET_PASSWORD_TIMEOUT_MS / 1000} s (a node older than this server does not know how: upgrade it); try again`);
    case 'NODE_CALL_UNSUPPORTED':
      return new AppError(409, 'NODE_UNSUPPORTED', `node "${node}" cannot set a repository password with a recovery key; upgrade it`);
  }
  if (REPOSITORY_PATH_CODES.has(err.code)) return new AppError(400, 'PASSWORD_RESET_FAILED', err.message, pathField);
  return new AppError(502, 'PASSWORD_RESET_FAILED', `setting the new password at ${path} on node ${node} failed: ${err.message}`);
}

/** The same bucket and prefix at the same store: one repository. */
function samePlace(a: S3StoredPlace | null, b: S3StoredPlace): boolean {
  if (!a) return false;
  const host = (p: S3StoredPlace): string => (p.endpoint ? new URL(p.endpoint).host.toLowerCase() : `aws:${p.region}`);
  return host(a) === host(b) && a.bucket === b.bucket && a.prefix === b.prefix;
}

/** The form field a failed check of a new destination is about. */
function checkFailureField(message: string, s3: boolean): string | undefined {
  if (!s3) return /password/i.test(message) ? 'password' : 'path';
  return s3FieldOf(message);
}
