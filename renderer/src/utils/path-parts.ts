/**
 * A path cut after each run of separators (/ or \), the separators kept with the name before
 * them: '/mnt/nas/vplus' → ['/', 'mnt/', 'nas/', 'vplus'], 'C:\Backups\vm1' → ['C:\', 'Backups\', 'vm1'].
 * Joined, the parts are the path again, character for character.
 */
export function pathParts(path: string): string[] {
  return (path.match(/[^/\\]*(?:[/\\]+|$)/g) ?? []).filter((part) => part !== '');
}

/** An absolute path: '/srv/x', 'C:\x', '\\server\share'. Task values that are paths are shown as paths. */
export function isAbsolutePath(value: string): boolean {
  return /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(value) && !/\n/.test(value);
}
