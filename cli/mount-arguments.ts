import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { MAX_MOUNT_IDLE_SECONDS } from '../common/api/index.js';
import { UsageError } from './errors.js';
import { formatDuration } from './format.js';

/**
 * The arguments of `vplus mount …`: mount ids, idle timeouts and paths inside
 * a mount, read and checked before the server is asked (exit 2 otherwise).
 */

export const MIN_IDLE_SECONDS = 60;

export function parseMountId(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('a mount is given by its id, a positive whole number as vplus mount list shows it.');
  }
  return Number(value);
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

/** "2h", "90m", "1d", "1h30m", "45s" → seconds; undefined when it cannot be read. */
export function parseDurationSeconds(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (!/^(\d+[smhdw])+$/.test(t)) return undefined;
  let seconds = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([smhdw])/g)) seconds += Number(n) * UNIT_SECONDS[unit!]!;
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** Commander parser for --idle: a duration from 1m to 7d, in seconds. */
export function parseIdle(value: string): number {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined) throw new InvalidArgumentError(`could not read "${value}" as a duration; write it like 30m, 2h, 1d or 1h30m.`);
  if (seconds < MIN_IDLE_SECONDS || seconds > MAX_MOUNT_IDLE_SECONDS) {
    throw new InvalidArgumentError(`"${value}" is ${formatDuration(seconds)}; the idle timeout is from 1m to ${formatDuration(MAX_MOUNT_IDLE_SECONDS)}.`);
  }
  return seconds;
}

/**
 * A path as the user writes it ("/vda1/etc/", "vda1//etc/./hosts") → as the
 * API takes it ("vda1/etc", "vda1/etc/hosts"): from the mount's root, no
 * leading or trailing "/", no empty or "." parts; "" is the root. ".." is
 * left for the node, which resolves it inside the filesystem.
 */
export function mountPath(input: string): string {
  if (input.includes('\0')) throw new UsageError('a path cannot contain a NUL byte');
  return input
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

/** "vda1/etc/hosts" → "/vda1/etc/hosts", as paths are shown. */
export function showPath(apiPath: string): string {
  return `/${apiPath}`;
}

/**
 * The local file `mount get` writes when --output is not given: the file's
 * own name, or the folder's name + ".zip", in the current directory; the
 * whole mount (its root) is "mount-ID.zip".
 */
export function defaultOutputName(mountId: number, apiPath: string, isFolder: boolean): string {
  const base = path.posix.basename(apiPath);
  if (base === '' || base === '..') return `mount-${mountId}.zip`;
  return isFolder ? `${base}.zip` : base;
}

/** Restore targets are directories on a node: absolute, without the trailing "/". */
export function nodeDirectory(flag: string, dir: string): string {
  if (!dir.startsWith('/')) throw new UsageError(`${flag} "${dir}": the directory must be absolute (it is on the node)`);
  return dir.replace(/(.)\/+$/, '$1');
}
