import type { AuditQuery, Backup, BrowseListQuery, TaskListQuery } from '@common/api/index.js';
import type { PolicyPreviewRequest } from './policies.queries.js';

/** The filters of GET /api/backups this UI uses. */
export interface BackupListFilter {
  /** Destination id or name. */
  destination?: string;
  vm?: string;
  status?: Backup['status'];
  /** ISO instants: created at or after `from`, before `to`. */
  from?: string;
  to?: string;
  search?: string;
  protected?: boolean;
}

/** One page of a directory of a mount, as GET /api/mounts/:id/files takes it. */
export type MountFilesQuery = BrowseListQuery;

/** Every cache key in one place, so WebSocket events can update exactly what changed. */
export const queryKeys = {
  health: ['health'] as const,
  me: ['auth', 'me'] as const,
  /** Client-side marker, never fetched: see useSessionEnd. */
  sessionEnd: ['auth', 'session-end'] as const,
  status: ['status'] as const,
  users: ['users'] as const,
  nodes: ['nodes'] as const,
  nodeList: ['nodes', 'list'] as const,
  nodeDetails: ['nodes', 'detail'] as const,
  /** By the reference in the URL (id or name); events match on the node's id inside. */
  node: (ref: string) => ['nodes', 'detail', ref] as const,
  nodeLog: (ref: string) => ['nodes', 'log', ref] as const,
  tasks: ['tasks'] as const,
  taskLists: ['tasks', 'list'] as const,
  taskList: (query: TaskListQuery) => ['tasks', 'list', query] as const,
  task: (id: number) => ['tasks', 'detail', id] as const,
  /** A long log's earlier lines, paged back from the cursor the task's details gave. */
  taskLogPages: (id: number, cursor: string | null) => ['tasks', 'log', id, cursor] as const,
  destinations: ['destinations'] as const,
  destinationList: ['destinations', 'list'] as const,
  destinationDetails: ['destinations', 'detail'] as const,
  /** By the reference in the URL (id or name); events match on the destination's id inside. */
  destination: (ref: string) => ['destinations', 'detail', ref] as const,
  /** By id: a point is added per destination task, and events carry the id. */
  destinationUsage: (id: number) => ['destinations', 'usage', id] as const,
  mounts: ['mounts'] as const,
  mountLists: ['mounts', 'list'] as const,
  mountList: (activeOnly: boolean) => ['mounts', 'list', { activeOnly }] as const,
  mount: (id: number) => ['mounts', 'detail', id] as const,
  /**
   * What is inside an open mount. Not under 'mounts': each read counts as a use of the mount
   * (it moves expiresAt), and a 'mount' event must never refetch every open listing.
   */
  mountBrowse: (id: number) => ['mount-browse', id] as const,
  mountFiles: (id: number, query: MountFilesQuery) => ['mount-browse', id, 'files', query] as const,
  mountStat: (id: number, path: string) => ['mount-browse', id, 'stat', path] as const,
  mountSearch: (id: number, path: string, pattern: string) => ['mount-browse', id, 'search', path, pattern] as const,
  mountPreview: (id: number, path: string) => ['mount-browse', id, 'preview', path] as const,
  /** The Exchange parts of a Microsoft 365 mount: searches and lists answered from the backup's metadata. */
  mailSearch: (id: number, query: Record<string, unknown>) => ['mount-browse', id, 'mail', 'messages', query] as const,
  mailMessage: (id: number, path: string) => ['mount-browse', id, 'mail', 'message', path] as const,
  eventList: (id: number, query: Record<string, unknown>) => ['mount-browse', id, 'calendar', query] as const,
  contactList: (id: number, query: Record<string, unknown>) => ['mount-browse', id, 'contacts', query] as const,
  backups: ['backups'] as const,
  backupLists: ['backups', 'list'] as const,
  backupList: (filter: BackupListFilter) => ['backups', 'list', filter] as const,
  /** One page of the backup browser (cursor undefined: the newest); under backupLists, so events refresh it. */
  backupPage: (filter: BackupListFilter, cursor: string | undefined, limit: number) => ['backups', 'list', filter, cursor ?? null, limit] as const,
  hypervisors: ['hypervisors'] as const,
  hypervisorList: ['hypervisors', 'list'] as const,
  vms: ['vms'] as const,
  /** Every VM of every hypervisor: the pages filter it themselves, so one cache serves them all. */
  vmList: ['vms', 'list'] as const,
  vmDetails: ['vms', 'detail'] as const,
  /** By the reference in the URL (id, name or UUID); events match on the VM's id inside. */
  vm: (ref: string) => ['vms', 'detail', ref] as const,
  /**
   * A VM's libvirt snapshots, by UUID (what SNAPSHOT tasks name). Not under 'vms': each fetch
   * runs a task on the node, so the many invalidations of 'vms' must not refetch it.
   */
  vmSnapshots: (vmUuid: string) => ['snapshots', vmUuid] as const,
  policies: ['policies'] as const,
  policyList: ['policies', 'list'] as const,
  policyDetails: ['policies', 'detail'] as const,
  /** By the reference in the URL (id or name). */
  policy: (ref: string) => ['policies', 'detail', ref] as const,
  policyRunLists: ['policies', 'runs'] as const,
  /** By id: 'policy.run' events carry the policy's id and are written straight into these pages (cursor undefined: the first). */
  policyRuns: (policyId: number, limit: number, cursor: string | undefined) => ['policies', 'runs', policyId, limit, cursor] as const,
  /** Under 'policies', so a change to any policy (a VM moving between them) refreshes an open preview. */
  policyPreview: (request: PolicyPreviewRequest) => ['policies', 'preview', request] as const,
  dashboard: ['dashboard'] as const,
  auditAll: ['audit'] as const,
  audit: (query: AuditQuery) => ['audit', query] as const,
};
