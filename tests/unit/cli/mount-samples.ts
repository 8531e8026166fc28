import type { BrowseEntry, Mount } from '../../../common/api/index.js';

/** A mount and a folder entry as the API returns them, with the fields a test does not care about filled in. */
export function sampleMount(overrides: Partial<Mount> = {}): Mount {
  return {
    id: 3,
    kind: 'browse',
    backupId: 14,
    m365BackupId: null,
    vm: 'prod-db',
    backupCreatedAt: '2025-01-31T12:00:00.000Z',
    destination: 'nas',
    nodeId: 1,
    node: 'n1',
    taskId: 45,
    state: 'MOUNTED',
    disks: ['vda'],
    overlay: true,
    filesystems: [
      { name: 'vda1', disk: 'vda', kind: 'partition', type: 'ext4', label: 'root', size: 30 * 1024 ** 2, readable: true },
      { name: 'vda2', disk: 'vda', kind: 'partition', type: 'swap', size: 2 * 1024 ** 2, readable: false, reason: 'swap holds no files' },
    ],
    iscsi: null,
    createdBy: 'admin',
    createdAt: '2025-01-31T13:00:00.000Z',
    idleSeconds: 7200,
    expiresAt: '2025-01-31T15:00:00.000Z',
    closedAt: null,
    error: null,
    ...overrides,
  };
}

export function sampleEntry(overrides: Partial<BrowseEntry> = {}): BrowseEntry {
  return { name: 'hosts', type: 'file', size: 220, mtime: '2025-01-30T08:00:00.000Z', mode: 0o644, uid: 0, gid: 0, owner: 'root', group: 'root', ...overrides };
}
