import { z } from 'zod';
import {
  AuditPageSchema,
  BackupPageSchema,
  BackupSchema,
  BrowseListingSchema,
  BrowseSearchHitSchema,
  BrowseSearchResultSchema,
  CreatedDestinationSchema,
  DestinationSchema,
  DestinationUsagePointSchema,
  EnrollmentTokenSchema,
  HypervisorSchema,
  InstallNodeResponseSchema,
  IscsiStartResponseSchema,
  LoginResponseSchema,
  MountSchema,
  NodeSchema,
  PolicyRunPageSchema,
  PolicyRunSchema,
  PolicySchema,
  RunBackupResponseSchema,
  SnapshotSchema,
  SshProbeResponseSchema,
  StatusSchema,
  TaskDetailsSchema,
  TaskLogPageSchema,
  TaskPageSchema,
  TaskSchema,
  UserListSchema,
  UserSchema,
  VmSchema,
  type AuditPage,
  type AuditQuery,
  type Backup,
  type BackupPage,
  type BrowseListing,
  type BrowseSearchHit,
  type BrowseSearchResult,
  type CreatedDestination,
  type CreateDestination,
  type CreateUser,
  type Destination,
  type EnrollmentToken,
  type Hypervisor,
  type InstallNode,
  type ResetDestinationPassword,
  type UpdateS3Credentials,
  type IscsiStartRequest,
  type IscsiStartResponse,
  type Login,
  type LoginResponse,
  type Mount,
  type MountRestoreRequest,
  type MountStartRequest,
  type Node,
  type Policy,
  type PolicyRun,
  type PolicyRunPage,
  type PolicyRunsQuery,
  type Restore,
  type Snapshot,
  type Retention,
  type Status,
  type Task,
  type TaskDetails,
  type TaskListQuery,
  type TaskLogPage,
  type TaskPage,
  type UpdateBackup,
  type User,
  type Vm,
} from '../../common/api/index.js';
import { CopyListItemSchema, type CopyListItem, type CopyState } from '../../common/api/copies.js';
import { ApiTransport, queryString } from './api-transport.js';

export { ApiConnectionError, ApiRequestError, describeRequestFailure } from './api-errors.js';
import type { ApiStream, BackupQuery, CreateHypervisorRequest, CreatePolicyRequest, DestinationUsagePoint, MountFilesQuery, RunBackupRequest, StartedWorkflow, UpdatePolicyRequest } from './api-types.js';

export { NOT_LOGGED_IN, queryString } from './api-transport.js';

export type {
  ApiClientOptions,
  ApiStream,
  BackupQuery,
  CreateHypervisorRequest,
  CreatePolicyRequest,
  DestinationUsagePoint,
  MountFilesQuery,
  RequestOptions,
  RunBackupRequest,
  StartedWorkflow,
  UpdatePolicyRequest,
} from './api-types.js';

/** The server checks a new destination's path on its node before answering (up to 2 minutes). */
const CREATE_DESTINATION_TIMEOUT_MS = 150_000;
/** The server lists the new hypervisor's domains on its node (an INVENTORY_SYNC task) before answering. */
const CREATE_HYPERVISOR_TIMEOUT_MS = 150_000;
/** The server waits up to 60 s for the node to list a VM's snapshots. */
const LIST_SNAPSHOTS_TIMEOUT_MS = 90_000;

/** A search walks the filesystem on the node; the server waits up to 5 minutes for it. */
const SEARCH_TIMEOUT_MS = 330_000;
/** The server answers an iSCSI export once it is up, waiting up to 2 minutes for it. */
const ISCSI_START_TIMEOUT_MS = 150_000;

/**
 * The REST API, over a connection pinned to one certificate (api-transport.ts). Every failure
 * becomes a CliError whose message tells the user what to do.
 */
export class ApiClient extends ApiTransport {
  status(): Promise<Status> {
    return this.request('GET', '/api/status', { schema: StatusSchema });
  }

  login(credentials: Login): Promise<LoginResponse> {
    return this.request('POST', '/api/auth/login', {
      body: credentials,
      schema: LoginResponseSchema,
      unauthorized: 'server-message',
    });
  }

  async logout(): Promise<void> {
    await this.request('POST', '/api/auth/logout');
  }

  listUsers(): Promise<User[]> {
    return this.request('GET', '/api/users', { schema: UserListSchema });
  }

  createUser(user: CreateUser): Promise<User> {
    return this.request('POST', '/api/users', { body: user, schema: UserSchema });
  }

  /** By id or username. */
  async deleteUser(ref: string): Promise<void> {
    await this.request('DELETE', `/api/users/${encodeURIComponent(ref)}`);
  }

  // ---- nodes -------------------------------------------------------------

  listNodes(): Promise<Node[]> {
    return this.request('GET', '/api/nodes', { schema: z.array(NodeSchema) });
  }

  /** By id or name. */
  getNode(ref: string): Promise<Node> {
    return this.request('GET', `/api/nodes/${encodeURIComponent(ref)}`, { schema: NodeSchema });
  }

  createEnrollmentToken(): Promise<EnrollmentToken> {
    return this.request('POST', '/api/nodes/tokens', { schema: EnrollmentTokenSchema });
  }

  /** The host key the server sees at host:port, before anything is sent there. */
  probeSshHostKey(host: string, port: number): Promise<{ hostKeyFingerprint: string; keyType: string }> {
    return this.request('POST', '/api/nodes/ssh-probe', { body: { host, port }, schema: SshProbeResponseSchema });
  }

  installNode(request: InstallNode): Promise<{ node: Node; taskId: number }> {
    return this.request('POST', '/api/nodes/install', { body: request, schema: InstallNodeResponseSchema });
  }

  upgradeNode(ref: string): Promise<Task> {
    return this.request('POST', `/api/nodes/${encodeURIComponent(ref)}/upgrade`, { schema: TaskSchema });
  }

  async restartNode(ref: string): Promise<void> {
    await this.request('POST', `/api/nodes/${encodeURIComponent(ref)}/restart`);
  }

  /** force: forget the node even when its host cannot be reached to uninstall it. */
  removeNode(ref: string, force = false): Promise<Task> {
    return this.request('DELETE', `/api/nodes/${encodeURIComponent(ref)}${force ? '?force=true' : ''}`, { schema: TaskSchema });
  }

  async nodeLog(ref: string, lines: number): Promise<string[]> {
    const page = await this.request('GET', `/api/nodes/${encodeURIComponent(ref)}/log?lines=${lines}`, {
      schema: z.object({ lines: z.array(z.string()) }),
    });
    return page.lines;
  }

  // ---- destinations and backups ----------------------------------------

  listDestinations(): Promise<Destination[]> {
    return this.request('GET', '/api/destinations', { schema: z.array(DestinationSchema) });
  }

  /** By id or name. */
  getDestination(ref: string): Promise<Destination> {
    return this.request('GET', `/api/destinations/${encodeURIComponent(ref)}`, { schema: DestinationSchema });
  }

  /** Answers once the node has checked the path (and created or opened the repository there). */
  /** An encrypted destination comes with its recovery key, given this once. */
  createDestination(request: CreateDestination): Promise<CreatedDestination> {
    return this.request('POST', '/api/destinations', { body: request, schema: CreatedDestinationSchema, timeoutMs: CREATE_DESTINATION_TIMEOUT_MS });
  }

  /**
   * The destination's node opens its repository with the recovery key and sets `password` in
   * place of the lost one; answers once the destination has been checked with it.
   */
  resetDestinationPassword(ref: string, request: ResetDestinationPassword): Promise<Destination> {
    return this.request('POST', `/api/destinations/${encodeURIComponent(ref)}/reset-password`, { body: request, schema: DestinationSchema, timeoutMs: CREATE_DESTINATION_TIMEOUT_MS });
  }

  /** Key rotation on an S3 destination: answers once its node has checked the repository with the new keys. */
  updateS3Credentials(ref: string, request: UpdateS3Credentials): Promise<Destination> {
    return this.request('PUT', `/api/destinations/${encodeURIComponent(ref)}/s3-credentials`, { body: request, schema: DestinationSchema, timeoutMs: CREATE_DESTINATION_TIMEOUT_MS });
  }

  renameDestination(ref: string, name: string): Promise<Destination> {
    return this.request('PATCH', `/api/destinations/${encodeURIComponent(ref)}`, { body: { name }, schema: DestinationSchema });
  }

  /** Forgets the destination (its data stays); force also forgets the backups the catalog lists on it. */
  async deleteDestination(ref: string, force = false): Promise<void> {
    await this.request('DELETE', `/api/destinations/${encodeURIComponent(ref)}${force ? '?force=true' : ''}`);
  }

  destinationUsage(ref: string): Promise<DestinationUsagePoint[]> {
    return this.request('GET', `/api/destinations/${encodeURIComponent(ref)}/usage`, { schema: z.array(DestinationUsagePointSchema) });
  }

  /** subset.part is 0-based, below subset.of. */
  verifyDestination(ref: string, subset?: { part: number; of: number }): Promise<Task> {
    return this.destinationTask(ref, 'verify', subset ? { subset } : {});
  }

  pruneDestination(ref: string, retention: Retention, dryRun: boolean): Promise<Task> {
    return this.destinationTask(ref, 'prune', { retention, dryRun });
  }

  gcDestination(ref: string, graceHours?: number): Promise<Task> {
    return this.destinationTask(ref, 'gc', graceHours === undefined ? {} : { graceHours });
  }

  importDestination(ref: string): Promise<Task> {
    return this.destinationTask(ref, 'import', {});
  }

  refreshDestination(ref: string): Promise<Task> {
    return this.destinationTask(ref, 'refresh', {});
  }

  private destinationTask(ref: string, action: string, body: Record<string, unknown>): Promise<Task> {
    return this.request('POST', `/api/destinations/${encodeURIComponent(ref)}/${action}`, { body, schema: TaskSchema });
  }

  /** A page of backups, newest first; nextCursor (as query.cursor) asks for the page after. */
  listBackups(query: BackupQuery = {}): Promise<BackupPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return this.request('GET', `/api/backups${qs ? `?${qs}` : ''}`, { schema: BackupPageSchema });
  }

  /** Protect or unprotect a backup, or change its notes (null clears them). */
  updateBackup(id: number, change: UpdateBackup): Promise<Backup> {
    return this.request('PATCH', `/api/backups/${id}`, { body: change, schema: BackupSchema });
  }

  /**
   * Starts the BACKUP_DELETE task on the backup's destination (and one on each copy's, unless
   * keepCopies: the copies then become backups of their destinations); a protected backup is refused (409).
   */
  deleteBackup(id: number, options: { keepCopies?: boolean } = {}): Promise<Task> {
    return this.request('DELETE', `/api/backups/${id}${options.keepCopies ? '?keepCopies=true' : ''}`, { schema: TaskSchema });
  }

  /** Starts a COPY task: the backup to another destination. */
  copyBackup(id: number, to: string): Promise<Task> {
    return this.request('POST', `/api/backups/${id}/copies`, { body: { to }, schema: TaskSchema });
  }

  /** Copies of backups, newest first. */
  listCopies(query: { backup?: number; destination?: string; state?: CopyState; limit?: number } = {}): Promise<CopyListItem[]> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return this.request('GET', `/api/copies${qs ? `?${qs}` : ''}`, { schema: z.array(CopyListItemSchema) });
  }

  /** Starts an EXPORT → STORE workflow; taskIds are [export, store]. */
  runBackup(request: RunBackupRequest): Promise<StartedWorkflow> {
    return this.request('POST', '/api/backups/run', { body: request, schema: RunBackupResponseSchema });
  }

  /** Starts a RESTORE (files) or RESTORE → IMPORT (import) workflow; taskIds in that order. */
  restore(request: Restore): Promise<StartedWorkflow> {
    return this.request('POST', '/api/restores', { body: request, schema: RunBackupResponseSchema });
  }

  // ---- hypervisors and VMs -----------------------------------------------

  listHypervisors(): Promise<Hypervisor[]> {
    return this.request('GET', '/api/hypervisors', { schema: z.array(HypervisorSchema) });
  }

  /** Answers once the node has listed the host's domains (or with the node's reason why it cannot). */
  createHypervisor(request: CreateHypervisorRequest): Promise<Hypervisor> {
    return this.request('POST', '/api/hypervisors', { body: request, schema: HypervisorSchema, timeoutMs: CREATE_HYPERVISOR_TIMEOUT_MS });
  }

  /** By id or name. */
  async deleteHypervisor(ref: string): Promise<void> {
    await this.request('DELETE', `/api/hypervisors/${encodeURIComponent(ref)}`);
  }

  /** Starts an INVENTORY_SYNC task. */
  syncHypervisor(ref: string): Promise<Task> {
    return this.request('POST', `/api/hypervisors/${encodeURIComponent(ref)}/sync`, { body: {}, schema: TaskSchema });
  }

  /** hypervisor: only the VMs of this one (id or name). */
  listVms(hypervisor?: string): Promise<Vm[]> {
    const qs = hypervisor === undefined ? '' : `?${new URLSearchParams({ hypervisor }).toString()}`;
    return this.request('GET', `/api/vms${qs}`, { schema: z.array(VmSchema) });
  }

  /** By id, name or UUID. */
  getVm(ref: string): Promise<Vm> {
    return this.request('GET', `/api/vms/${encodeURIComponent(ref)}`, { schema: VmSchema });
  }

  /** Sets the disks left out of backups; the VM as it is now, when the server answers with it. */
  async updateVm(ref: string, update: { excludedDisks: string[] }): Promise<Vm | null> {
    const body = await this.request('PATCH', `/api/vms/${encodeURIComponent(ref)}`, { body: update });
    const parsed = VmSchema.safeParse(body);
    return parsed.success ? parsed.data : null;
  }

  // ---- policies ----------------------------------------------------------

  listPolicies(): Promise<Policy[]> {
    return this.request('GET', '/api/policies', { schema: z.array(PolicySchema) });
  }

  /** By id or name. */
  getPolicy(ref: string): Promise<Policy> {
    return this.request('GET', `/api/policies/${encodeURIComponent(ref)}`, { schema: PolicySchema });
  }

  /** The server applies the new policy's assignment rules before it answers. */
  createPolicy(request: CreatePolicyRequest): Promise<Policy> {
    return this.request('POST', '/api/policies', { body: request, schema: PolicySchema });
  }

  updatePolicy(ref: string, request: UpdatePolicyRequest): Promise<Policy> {
    return this.request('PATCH', `/api/policies/${encodeURIComponent(ref)}`, { body: request, schema: PolicySchema });
  }

  /** The policy's backups stay. */
  async deletePolicy(ref: string): Promise<void> {
    await this.request('DELETE', `/api/policies/${encodeURIComponent(ref)}`);
  }

  /** vms: ids, names or UUIDs. */
  assignVms(ref: string, vms: readonly string[]): Promise<Policy> {
    return this.request('POST', `/api/policies/${encodeURIComponent(ref)}/assign`, { body: { vms }, schema: PolicySchema });
  }

  unassignVms(ref: string, vms: readonly string[]): Promise<Policy> {
    return this.request('POST', `/api/policies/${encodeURIComponent(ref)}/unassign`, { body: { vms }, schema: PolicySchema });
  }

  /** Starts a run now; without a type, incremental where the chain allows. */
  runPolicy(ref: string, backupType?: 'full' | 'incremental'): Promise<PolicyRun> {
    return this.request('POST', `/api/policies/${encodeURIComponent(ref)}/run`, { body: backupType ? { backupType } : {}, schema: PolicyRunSchema });
  }

  /** Prunes by the policy's retention, then collects garbage, on its destination. */
  applyPolicyRetention(ref: string): Promise<PolicyRun> {
    return this.request('POST', `/api/policies/${encodeURIComponent(ref)}/retention`, { schema: PolicyRunSchema });
  }

  verifyPolicyDestination(ref: string): Promise<PolicyRun> {
    return this.request('POST', `/api/policies/${encodeURIComponent(ref)}/verify`, { schema: PolicyRunSchema });
  }

  /** Runs and misses, newest first, a page at a time: of one policy, or of all without one. */
  policyRuns(ref: string | undefined, query: Omit<Partial<PolicyRunsQuery>, 'policy'> = {}): Promise<PolicyRunPage> {
    const path = ref === undefined ? '/api/policy-runs' : `/api/policies/${encodeURIComponent(ref)}/runs`;
    const qs = queryString({ ...query });
    return this.request('GET', `${path}${qs ? `?${qs}` : ''}`, { schema: PolicyRunPageSchema });
  }

  // ---- snapshots ---------------------------------------------------------

  /** The VM's libvirt snapshots, oldest first (the server asks the VM's node and waits). */
  listSnapshots(vm: string): Promise<Snapshot[]> {
    return this.request('GET', `/api/vms/${encodeURIComponent(vm)}/snapshots`, { schema: z.array(SnapshotSchema), timeoutMs: LIST_SNAPSHOTS_TIMEOUT_MS });
  }

  /** Starts a SNAPSHOT task; without a name the node picks vplus-<UTC time>-<hex>. */
  createSnapshot(vm: string, name?: string): Promise<Task> {
    return this.request('POST', `/api/vms/${encodeURIComponent(vm)}/snapshots`, { body: name === undefined ? {} : { name }, schema: TaskSchema });
  }

  revertSnapshot(vm: string, name: string, discardCheckpoints = false): Promise<Task> {
    return this.request('POST', `/api/vms/${encodeURIComponent(vm)}/snapshots/${encodeURIComponent(name)}/revert`, { body: discardCheckpoints ? { discardCheckpoints } : {}, schema: TaskSchema });
  }

  deleteSnapshot(vm: string, name: string): Promise<Task> {
    return this.request('DELETE', `/api/vms/${encodeURIComponent(vm)}/snapshots/${encodeURIComponent(name)}`, { schema: TaskSchema });
  }

  // ---- mounts (file-level restore) --------------------------------------

  /** Starts a MOUNT task; the mount is MOUNTING until its filesystems are found and mounted. */
  startMount(request: MountStartRequest): Promise<Mount> {
    return this.request('POST', '/api/mounts', { body: request, schema: MountSchema });
  }

  /** Exports one disk over iSCSI, answering once it is up; the answer holds the CHAP password, which is never shown again. */
  startIscsi(request: IscsiStartRequest): Promise<IscsiStartResponse> {
    return this.request('POST', '/api/mounts/iscsi', { body: request, schema: IscsiStartResponseSchema, timeoutMs: ISCSI_START_TIMEOUT_MS });
  }

  /** active: only those mounting or mounted. */
  listMounts(active: boolean): Promise<Mount[]> {
    return this.request('GET', `/api/mounts${active ? '?active=true' : ''}`, { schema: z.array(MountSchema) });
  }

  getMount(id: number): Promise<Mount> {
    return this.request('GET', `/api/mounts/${id}`, { schema: MountSchema });
  }

  /** The new idle timeout counts from now. */
  extendMount(id: number, idleSeconds: number): Promise<Mount> {
    return this.request('POST', `/api/mounts/${id}/extend`, { body: { idleSeconds }, schema: MountSchema });
  }

  /** Asks the node to close the mount; answers with it CLOSING (or already closed). */
  stopMount(id: number): Promise<Mount> {
    return this.request('DELETE', `/api/mounts/${id}`, { schema: MountSchema });
  }

  /** One page of a folder; path from the mount's root ('vda1/etc'), '' for the root. */
  listMountFiles(id: number, query: MountFilesQuery): Promise<BrowseListing> {
    return this.request('GET', `/api/mounts/${id}/files?${queryString({ ...query })}`, { schema: BrowseListingSchema });
  }

  statMountPath(id: number, path: string): Promise<BrowseSearchHit> {
    return this.request('GET', `/api/mounts/${id}/stat?${queryString({ path })}`, { schema: BrowseSearchHitSchema });
  }

  searchMount(id: number, query: { path: string; pattern: string; limit?: number }): Promise<BrowseSearchResult> {
    return this.request('GET', `/api/mounts/${id}/search?${queryString(query)}`, { schema: BrowseSearchResultSchema, timeoutMs: SEARCH_TIMEOUT_MS });
  }

  /** Starts a FILE_RESTORE task copying the paths to a directory on a node. */
  restoreFromMount(id: number, request: MountRestoreRequest): Promise<Task> {
    return this.request('POST', `/api/mounts/${id}/restore`, { body: request, schema: TaskSchema });
  }

  /** A file's bytes as they are, streamed. */
  downloadMountFile(id: number, path: string): Promise<ApiStream> {
    return this.stream('GET', `/api/mounts/${id}/content?${queryString({ path, download: '1' })}`);
  }

  /** Folders and files as one zip, streamed as the node builds it (its size is not known ahead). */
  downloadMountZip(id: number, paths: readonly string[]): Promise<ApiStream> {
    return this.stream('GET', `/api/mounts/${id}/zip?${queryString({ path: paths })}`);
  }

  // ---- audit -------------------------------------------------------------

  /** Newest first, a page at a time. */
  listAudit(query: Partial<AuditQuery> = {}): Promise<AuditPage> {
    const qs = queryString({ ...query });
    return this.request('GET', `/api/audit${qs ? `?${qs}` : ''}`, { schema: AuditPageSchema });
  }

  // ---- tasks -------------------------------------------------------------

  /** Newest first, a page at a time: pass a page's nextCursor as the next one's cursor. */
  listTasks(query: Partial<TaskListQuery> = {}): Promise<TaskPage> {
    const qs = queryString({ ...query });
    return this.request('GET', `/api/tasks${qs ? `?${qs}` : ''}`, { schema: TaskPageSchema });
  }

  /** A task's log from the newest line back, a page at a time (each page oldest first). */
  taskLog(id: number, query: { limit?: number; cursor?: string } = {}): Promise<TaskLogPage> {
    const qs = queryString(query);
    return this.request('GET', `/api/tasks/${id}/log${qs ? `?${qs}` : ''}`, { schema: TaskLogPageSchema });
  }

  getTask(id: number): Promise<TaskDetails> {
    return this.request('GET', `/api/tasks/${id}`, { schema: TaskDetailsSchema });
  }

  cancelTask(id: number, force: boolean): Promise<Task> {
    return this.request('POST', `/api/tasks/${id}/cancel`, { body: force ? { force: true } : {}, schema: TaskSchema });
  }

  createNodeCheck(request: { node: string; sampleBytes?: number; priority?: number }): Promise<Task> {
    return this.request('POST', '/api/tasks/node-check', { body: request, schema: TaskSchema });
  }
}
