import type { BrowseEntry, BrowseSearchHit, IscsiStartResponse, Mount, MountFilesystem } from '../common/api/index.js';
import { formatBytes, formatDuration, formatTable, formatTimestamp } from './format.js';
import { showPath } from './mount-arguments.js';
import { formatFields } from './output.js';

/** What `vplus mount …` prints for people; --json prints the API's objects instead. */

/**
 * Permission bits as `ls -l` shows them: 0o755 → "rwxr-xr-x"; setuid and
 * setgid show as s (S without x), the sticky bit as t (T).
 */
export function formatPermissions(mode: number): string {
  const triplet = (shift: number, special: boolean, specialChar: string): string => {
    const bits = (mode >> shift) & 0o7;
    const x = bits & 1 ? (special ? specialChar : 'x') : special ? specialChar.toUpperCase() : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${x}`;
  };
  return triplet(6, (mode & 0o4000) !== 0, 's') + triplet(3, (mode & 0o2000) !== 0, 's') + triplet(0, (mode & 0o1000) !== 0, 't');
}

/** "root:adm" from the backed-up system's own names, uid:gid where it has none. */
export function formatOwner(entry: Pick<BrowseEntry, 'uid' | 'gid' | 'owner' | 'group'>): string {
  return `${entry.owner ?? entry.uid}:${entry.group ?? entry.gid}`;
}

/** A name as listed; a symlink's with its target. */
function displayName(entry: Pick<BrowseEntry, 'name' | 'type' | 'target'>, name = entry.name): string {
  return entry.type === 'symlink' ? `${name} -> ${entry.target ?? '?'}` : name;
}

/** A file's size in bytes as `ls -l` does, a folder's as "-" (its size says nothing). */
function entrySize(entry: Pick<BrowseEntry, 'type' | 'size'>): string {
  return entry.type === 'file' ? formatBytes(entry.size) : '-';
}

/** `mount ls`: TYPE MODE OWNER SIZE MODIFIED NAME, in the manner of `ls -l`. */
export function formatListing(apiPath: string, entries: readonly BrowseEntry[]): string {
  if (entries.length === 0) return `${showPath(apiPath)} is empty.`;
  return formatTable(
    ['TYPE', 'MODE', 'OWNER', 'SIZE', 'MODIFIED', 'NAME'],
    entries.map((e) => [e.type, formatPermissions(e.mode), formatOwner(e), entrySize(e), formatTimestamp(e.mtime), displayName(e)]),
  );
}

/** `mount find`: the hits with their paths from the mount's root. */
export function formatHits(hits: readonly BrowseSearchHit[]): string {
  return formatTable(
    ['TYPE', 'MODE', 'OWNER', 'SIZE', 'MODIFIED', 'PATH'],
    hits.map((h) => [h.type, formatPermissions(h.mode), formatOwner(h), entrySize(h), formatTimestamp(h.mtime), displayName(h, showPath(h.path))]),
  );
}

/** The filesystems a mount found: which can be browsed, and why not the others. */
export function formatFilesystems(filesystems: readonly MountFilesystem[]): string {
  if (filesystems.length === 0) return 'No filesystems were found on the disks.';
  return formatTable(
    ['NAME', 'DISK', 'KIND', 'TYPE', 'LABEL', 'SIZE', 'BROWSABLE'],
    filesystems.map((f) => [
      f.name,
      f.disk,
      f.kind,
      f.type ?? 'unknown',
      f.label ?? '-',
      formatBytes(f.size),
      f.readable ? 'yes' : `no: ${f.reason ?? 'cannot be read'}`,
    ]),
  );
}

/** "mount 3 (backup 14 of prod-db, 2025-01-31 12:00)" */
export function describeMount(mount: Pick<Mount, 'id' | 'backupId' | 'vm' | 'backupCreatedAt'>): string {
  return `mount ${mount.id} (backup ${mount.backupId} of ${mount.vm}, ${formatTimestamp(mount.backupCreatedAt)})`;
}

/** "closes after 2h 00m unused (at 2025-01-31 14:00)" */
export function describeExpiry(mount: Pick<Mount, 'idleSeconds' | 'expiresAt'>): string {
  const at = mount.expiresAt ? ` (at ${formatTimestamp(mount.expiresAt)} unless it is used)` : '';
  return `closes after ${formatDuration(mount.idleSeconds)} unused${at}`;
}

export function formatMounts(mounts: readonly Mount[], all: boolean): string {
  if (mounts.length === 0) return all ? 'No mounts.' : 'No active mounts; see the closed ones with vplus mount list --all.';
  return formatTable(
    ['ID', 'KIND', 'BACKUP', 'VM', 'TAKEN', 'NODE', 'STATE', 'EXPIRES', 'BY'],
    mounts.map((m) => [
      String(m.id),
      m.kind === 'iscsi' ? `iscsi ${m.iscsi?.disk ?? ''}`.trimEnd() : 'browse',
      String(m.backupId),
      m.vm,
      formatTimestamp(m.backupCreatedAt),
      m.node,
      m.state,
      m.state === 'MOUNTING' || m.state === 'MOUNTED' ? formatTimestamp(m.expiresAt) : '-',
      m.createdBy,
    ]),
  );
}

export function formatMountDetails(mount: Mount): string {
  const fields: [string, string][] = [
    ['ID', String(mount.id)],
    ['Kind', mount.kind],
    ['Backup', `${mount.backupId} of ${mount.vm}, taken ${formatTimestamp(mount.backupCreatedAt)}, on destination ${mount.destination}`],
    ['Node', mount.node],
    ['State', mount.state],
    ['Task', mount.taskId === null ? '-' : String(mount.taskId)],
    ['Disks', mount.disks.join(', ') || '-'],
    ['Overlay', mount.overlay ? 'yes (journals replayed in a copy-on-write layer)' : 'no'],
    ['Idle timeout', formatDuration(mount.idleSeconds)],
    ['Expires', mount.state === 'MOUNTING' || mount.state === 'MOUNTED' ? formatTimestamp(mount.expiresAt) : '-'],
    ['Created', `${formatTimestamp(mount.createdAt)} by ${mount.createdBy}`],
  ];
  if (mount.closedAt) fields.push(['Closed', formatTimestamp(mount.closedAt)]);
  if (mount.error) fields.push(['Error', mount.error]);
  if (mount.iscsi) {
    fields.push(['Portal', mount.iscsi.portal], ['Target', mount.iscsi.target], ['LUN', String(mount.iscsi.lun)], ['CHAP user', mount.iscsi.chapUser]);
    fields.push(['Initiators', [...mount.iscsi.initiatorNames, ...mount.iscsi.initiatorAddresses].join(', ')]);
  }
  const filesystems = mount.kind === 'browse' && mount.filesystems.length > 0 ? `\n\n${formatFilesystems(mount.filesystems)}` : '';
  return `${formatFields(fields)}${filesystems}`;
}

/** What an initiator needs to log in; the password is in this answer only. */
export function formatIscsiAccess(started: IscsiStartResponse): string {
  return formatFields([
    ['Mount', String(started.mount.id)],
    ['Portal', started.portal],
    ['Target', started.target],
    ['LUN', String(started.lun)],
    ['CHAP user', started.chapUser],
    ['CHAP password', started.chapPassword],
  ]);
}

/** open-iscsi's commands for that target, as an example of logging in. */
export function iscsiLoginHint(started: Pick<IscsiStartResponse, 'portal' | 'target' | 'chapUser'>): string {
  const node = `iscsiadm -m node -T ${started.target} -p ${started.portal}`;
  return [
    'With open-iscsi, for example:',
    `  iscsiadm -m discovery -t sendtargets -p ${started.portal}`,
    `  ${node} -o update -n node.session.auth.authmethod -v CHAP`,
    `  ${node} -o update -n node.session.auth.username -v ${started.chapUser}`,
    `  ${node} -o update -n node.session.auth.password -v PASSWORD`,
    `  ${node} --login`,
  ].join('\n');
}
