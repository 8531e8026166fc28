import type { BrowseEntry, Mount, MountState } from '@common/api/index.js';

/** A Microsoft 365 backup is browsed as one folder per drive (a OneDrive, a site's libraries); a VM's as one per filesystem. */
export const isM365Mount = (mount: Pick<Mount, 'm365BackupId'>): boolean => mount.m365BackupId !== null;

/** The mount's root, in words: "All drives" or "All filesystems". */
export const mountRootLabel = (mount: Pick<Mount, 'm365BackupId'>): string => (isM365Mount(mount) ? 'All drives' : 'All filesystems');

/**
 * Paths inside a mount are '/'-separated and relative, the first component naming the
 * filesystem ('vda1/etc/hosts'); '' is the mount's root. Names come from the backup and may
 * hold any byte but '/' and NUL: they are only ever shown as text and sent URL-encoded.
 */
export function joinMountPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

export function parentMountPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** '' stays ''; doubled or trailing slashes from a hand-edited URL are dropped. */
export function normalizeMountPath(path: string): string {
  return path
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

/** Every prefix of a path, the root first: 'a/b/c' → ['', 'a', 'a/b', 'a/b/c']. */
export function mountPathAncestors(path: string): string[] {
  const parts = path === '' ? [] : path.split('/');
  return ['', ...parts.map((_, index) => parts.slice(0, index + 1).join('/'))];
}

/**
 * Where a symlink leads inside the mount, or null when it leaves its filesystem (an absolute
 * target, or '..' past the filesystem's root): those are shown, never followed.
 */
export function resolveSymlink(linkPath: string, target: string): string | null {
  if (target === '' || target.startsWith('/') || target.includes('\0')) return null;
  const parts = parentMountPath(linkPath).split('/');
  const filesystem = parts[0];
  if (filesystem === undefined || filesystem === '') return null;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      // The first component is the filesystem itself: climbing past it leaves the filesystem.
      if (parts.length <= 1) return null;
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  return parts.join('/');
}

const TYPE_LETTERS: Record<BrowseEntry['type'], string> = { file: '-', dir: 'd', symlink: 'l', other: '?' };

/** 'drwxr-sr-x', as ls -l prints it (s/S, t/T for setuid, setgid and sticky). */
export function formatMode(type: BrowseEntry['type'], mode: number): string {
  const bit = (mask: number, letter: string): string => ((mode & mask) !== 0 ? letter : '-');
  const special = (exec: number, flag: number, on: string): string => {
    const x = (mode & exec) !== 0;
    if ((mode & flag) === 0) return x ? 'x' : '-';
    return x ? on : on.toUpperCase();
  };
  return [
    TYPE_LETTERS[type],
    bit(0o400, 'r'),
    bit(0o200, 'w'),
    special(0o100, 0o4000, 's'),
    bit(0o040, 'r'),
    bit(0o020, 'w'),
    special(0o010, 0o2000, 's'),
    bit(0o004, 'r'),
    bit(0o002, 'w'),
    special(0o001, 0o1000, 't'),
  ].join('');
}

/** 'root:adm', or the numeric ids where the backed-up system's account files do not name them. */
export function formatOwner(entry: Pick<BrowseEntry, 'owner' | 'group' | 'uid' | 'gid'>): string {
  return `${entry.owner ?? entry.uid}:${entry.group ?? entry.gid}`;
}

/** Image types a browser shows in an <img>; SVG too, since an <img> never runs its scripts. */
const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  ico: 'image/x-icon',
  avif: 'image/avif',
  svg: 'image/svg+xml',
};

const TEXT_EXTENSIONS = new Set([
  'txt', 'log', 'md', 'rst', 'csv', 'tsv', 'json', 'xml', 'yaml', 'yml', 'toml', 'ini', 'conf', 'cfg', 'cnf', 'properties',
  'sh', 'bash', 'zsh', 'fish', 'ps1', 'bat', 'cmd', 'py', 'rb', 'pl', 'php', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'css', 'scss',
  'html', 'htm', 'c', 'h', 'cc', 'cpp', 'hpp', 'java', 'go', 'rs', 'sql', 'service', 'timer', 'socket', 'mount', 'rules', 'list',
  'repo', 'pem', 'crt', 'pub', 'env', 'diff', 'patch', 'tex', 'srt', 'vtt', 'lock',
]);

/** Extension-less files commonly text on Linux systems. */
const TEXT_NAMES = new Set([
  'hosts', 'hostname', 'passwd', 'group', 'fstab', 'crontab', 'resolv.conf', 'os-release', 'issue', 'motd', 'shells', 'profile',
  'bashrc', '.bashrc', '.profile', '.bash_profile', 'authorized_keys', 'known_hosts', 'sudoers', 'readme', 'license', 'makefile',
  'dockerfile', 'changelog', 'timezone', 'machine-id',
]);

export type PreviewKind = { kind: 'text' } | { kind: 'image'; mimeType: string } | null;

/** What a preview can show, by the name alone: never sniffed from the bytes, never rendered as HTML. */
export function previewKind(name: string): PreviewKind {
  const lower = name.toLowerCase();
  const dot = lower.lastIndexOf('.');
  const extension = dot > 0 ? lower.slice(dot + 1) : '';
  const image = IMAGE_TYPES[extension];
  if (image !== undefined) return { kind: 'image', mimeType: image };
  if (TEXT_EXTENSIONS.has(extension) || TEXT_NAMES.has(lower)) return { kind: 'text' };
  return null;
}

/** Plain URLs (the session cookie authenticates them), so the browser streams downloads to disk. */
export function mountContentUrl(mountId: number, path: string, download: boolean): string {
  const query = new URLSearchParams({ path });
  if (download) query.set('download', '1');
  return `/api/mounts/${mountId}/content?${query.toString()}`;
}

export function mountZipUrl(mountId: number, paths: readonly string[]): string {
  const query = new URLSearchParams();
  for (const path of paths) query.append('path', path);
  return `/api/mounts/${mountId}/zip?${query.toString()}`;
}

export const MOUNT_STATE_LOOK: Record<MountState, { label: string; color: string }> = {
  MOUNTING: { label: 'Mounting', color: 'blue' },
  MOUNTED: { label: 'Mounted', color: 'green' },
  CLOSING: { label: 'Closing', color: 'yellow' },
  CLOSED: { label: 'Closed', color: 'gray' },
  FAILED: { label: 'Failed', color: 'red' },
};

export const isActiveMount = (state: MountState): boolean => state === 'MOUNTING' || state === 'MOUNTED';
