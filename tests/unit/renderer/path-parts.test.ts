import { describe, expect, it } from 'vitest';
import { isAbsolutePath, pathParts } from '../../../renderer/src/utils/path-parts.js';

describe('pathParts: where a shown path may wrap', () => {
  it('cuts after each separator, keeping it with the name before it', () => {
    expect(pathParts('/mnt/nas/vplus')).toEqual(['/', 'mnt/', 'nas/', 'vplus']);
    expect(pathParts('/srv/restored/')).toEqual(['/', 'srv/', 'restored/']);
    expect(pathParts('vda1/etc/ssh/sshd_config')).toEqual(['vda1/', 'etc/', 'ssh/', 'sshd_config']);
  });

  it('cuts Windows paths at backslashes, and keeps a run of separators together', () => {
    expect(pathParts('C:\\Backups\\vm1.qcow2')).toEqual(['C:\\', 'Backups\\', 'vm1.qcow2']);
    expect(pathParts('\\\\nas\\share\\vplus')).toEqual(['\\\\', 'nas\\', 'share\\', 'vplus']);
    expect(pathParts('//nas//share')).toEqual(['//', 'nas//', 'share']);
  });

  it('never cuts inside a name (hyphens, dots and spaces stay)', () => {
    expect(pathParts('/var/lib/libvirt/images/office-file-server.v2 (old).qcow2')).toEqual(['/', 'var/', 'lib/', 'libvirt/', 'images/', 'office-file-server.v2 (old).qcow2']);
  });

  it('joins back to the path, character for character', () => {
    for (const path of ['', 'name', '/', '/a//b/', 'C:\\x\\y', '→ /etc/shadow', '/mnt/nas/vplus']) expect(pathParts(path).join('')).toBe(path);
    expect(pathParts('')).toEqual([]);
  });
});

describe('isAbsolutePath: which task values are shown as paths', () => {
  it('knows POSIX, drive-letter and UNC paths', () => {
    for (const path of ['/srv/restored', '/', 'C:\\Backups', 'D:/vm', '\\\\nas\\share']) expect(isAbsolutePath(path)).toBe(true);
  });
  it('leaves other text alone', () => {
    for (const text of ['vda', 'qemu:///system', 'relative/path', '2 of 3 disks', '/multi\nline']) expect(isAbsolutePath(text)).toBe(false);
  });
});
