import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { iscsiRequest } from '../../../cli/commands/mount.command.js';
import { mountRestoreRequest } from '../../../cli/commands/mount-browse.js';
import { CliError, UsageError } from '../../../cli/errors.js';
import { defaultOutputName, mountPath, nodeDirectory, parseDurationSeconds, parseIdle, parseMountId } from '../../../cli/mount-arguments.js';
import { downloadTarget } from '../../../cli/mount-download.js';
import { formatFilesystems, formatHits, formatListing, formatMounts, formatOwner, formatPermissions } from '../../../cli/mount-format.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { sampleEntry, sampleMount } from './mount-samples.js';

afterAll(removeTempDirs);

describe('mount arguments', () => {
  it('a mount id is a positive whole number', () => {
    expect(parseMountId('3')).toBe(3);
    for (const bad of ['0', '-1', 'abc', '1.5', '']) expect(() => parseMountId(bad)).toThrow(InvalidArgumentError);
  });

  it('durations: units s m h d w, combined; a bare number or an unknown unit is unreadable', () => {
    expect(parseDurationSeconds('2h')).toBe(7200);
    expect(parseDurationSeconds('90m')).toBe(5400);
    expect(parseDurationSeconds('1h30m')).toBe(5400);
    expect(parseDurationSeconds('1D')).toBe(86_400);
    expect(parseDurationSeconds(' 45s ')).toBe(45);
    expect(parseDurationSeconds('1w')).toBe(604_800);
    for (const bad of ['', '90', 'h', '2 h', '2y', '-1h', '1.5h']) expect(parseDurationSeconds(bad)).toBeUndefined();
  });

  it('--idle is 1m to 7d', () => {
    expect(parseIdle('1m')).toBe(60);
    expect(parseIdle('7d')).toBe(7 * 86_400);
    expect(() => parseIdle('59s')).toThrow('the idle timeout is from 1m to 7d 00h');
    expect(() => parseIdle('8d')).toThrow(/"8d" is 8d 00h; the idle timeout is from 1m/);
    expect(() => parseIdle('soon')).toThrow('could not read "soon" as a duration; write it like 30m, 2h, 1d or 1h30m.');
  });

  it('paths lose the leading and trailing "/", empty and "." parts; ".." is left for the node', () => {
    expect(mountPath('/vda1/etc/')).toBe('vda1/etc');
    expect(mountPath('vda1//etc/./hosts')).toBe('vda1/etc/hosts');
    expect(mountPath('/')).toBe('');
    expect(mountPath('')).toBe('');
    expect(mountPath('/vda1/etc/../home')).toBe('vda1/etc/../home');
    expect(() => mountPath('a\0b')).toThrow(UsageError);
  });

  it("the default output name is the file's name, the folder's + .zip, or mount-ID.zip for the root", () => {
    expect(defaultOutputName(3, 'vda1/etc/hosts', false)).toBe('hosts');
    expect(defaultOutputName(3, 'vda1/etc', true)).toBe('etc.zip');
    expect(defaultOutputName(3, 'vda1', true)).toBe('vda1.zip');
    expect(defaultOutputName(3, '', true)).toBe('mount-3.zip');
  });

  it('node directories are absolute, without the trailing "/"', () => {
    expect(nodeDirectory('--path', '/srv/restore/')).toBe('/srv/restore');
    expect(nodeDirectory('--path', '/')).toBe('/');
    expect(() => nodeDirectory('--path', 'srv')).toThrow('--path "srv": the directory must be absolute (it is on the node)');
  });
});

describe('mount restore and iscsi requests', () => {
  it('restore: paths from the root, once each; --path is needed and absolute; the root as a whole is refused', () => {
    expect(mountRestoreRequest(['/vda1/etc/', 'vda1/etc', '/vda1/home/ann'], { path: '/srv/r/' })).toEqual({
      paths: ['vda1/etc', 'vda1/home/ann'],
      path: '/srv/r',
      overwrite: false,
    });
    expect(mountRestoreRequest(['/vda1'], { path: '/srv', node: 'n2', overwrite: true })).toEqual({ paths: ['vda1'], path: '/srv', node: 'n2', overwrite: true });
    expect(() => mountRestoreRequest(['/vda1'], {})).toThrow('give the directory on the node to restore into with --path DIR');
    expect(() => mountRestoreRequest(['/vda1'], { path: 'rel' })).toThrow(UsageError);
    expect(() => mountRestoreRequest(['/'], { path: '/srv' })).toThrow("the mount's root cannot be restored as a whole");
    expect(() => mountRestoreRequest(['/vda1'], { path: '/srv', node: ' ' })).toThrow('--node needs a node name or id');
  });

  it('iscsi: at least one initiator; IQNs and addresses are checked before the server is asked', () => {
    expect(iscsiRequest(14, { disk: 'vda', initiator: ['iqn.2024-01.com.example:host1'], allowAddress: ['10.0.0.5'], idle: 3600 })).toEqual({
      backup: 14,
      disk: 'vda',
      initiatorNames: ['iqn.2024-01.com.example:host1'],
      initiatorAddresses: ['10.0.0.5'],
      idleSeconds: 3600,
    });
    expect(iscsiRequest(14, { disk: 'vda', allowAddress: ['fe80::1'] }).initiatorAddresses).toEqual(['fe80::1']);
    expect(() => iscsiRequest(14, { disk: 'vda' })).toThrow('name the initiators allowed to log in with --initiator IQN or --allow-address ADDR');
    expect(() => iscsiRequest(14, { disk: 'vda', initiator: ['host1'] })).toThrow('--initiator "host1": an initiator IQN looks like iqn.YYYY-MM.domain[:name]');
    expect(() => iscsiRequest(14, { disk: 'vda', allowAddress: ['10.0.0.300'] })).toThrow('--allow-address "10.0.0.300": not an IPv4 or IPv6 address');
  });
});

describe('mount formatting', () => {
  it('permissions as ls shows them, with setuid, setgid and sticky bits', () => {
    expect(formatPermissions(0o755)).toBe('rwxr-xr-x');
    expect(formatPermissions(0o640)).toBe('rw-r-----');
    expect(formatPermissions(0o4755)).toBe('rwsr-xr-x');
    expect(formatPermissions(0o2644)).toBe('rw-r-Sr--');
    expect(formatPermissions(0o1777)).toBe('rwxrwxrwt');
    expect(formatPermissions(0o1000)).toBe('--------T');
    expect(formatPermissions(0)).toBe('---------');
  });

  it("owners by the backed-up system's names, else by number", () => {
    expect(formatOwner({ uid: 0, gid: 4, owner: 'root', group: 'adm' })).toBe('root:adm');
    expect(formatOwner({ uid: 1000, gid: 1000 })).toBe('1000:1000');
  });

  it('a listing: type, mode, owner, size (files only), time and name; a symlink with its target', () => {
    const text = formatListing('vda1/etc', [
      sampleEntry({ name: 'ssh', type: 'dir', size: 4096, mode: 0o755 }),
      sampleEntry({ name: 'hosts', size: 220 }),
      sampleEntry({ name: 'localtime', type: 'symlink', size: 27, mode: 0o777, target: '/usr/share/zoneinfo/Etc/UTC' }),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^TYPE\s+MODE\s+OWNER\s+SIZE\s+MODIFIED\s+NAME$/);
    expect(lines[1]).toMatch(/^dir\s+rwxr-xr-x\s+root:root\s+-\s+2025-01-3\d \d\d:\d\d\s+ssh$/);
    expect(lines[2]).toMatch(/^file\s+rw-r--r--\s+root:root\s+220 B\s+\S+ \S+\s+hosts$/);
    expect(lines[3]).toMatch(/^symlink\s+rwxrwxrwx\s+root:root\s+-\s+\S+ \S+\s+localtime -> \/usr\/share\/zoneinfo\/Etc\/UTC$/);
    expect(formatListing('vda1/empty', [])).toBe('/vda1/empty is empty.');
  });

  it('search hits show their paths from the root', () => {
    expect(formatHits([{ ...sampleEntry(), path: 'vda1/etc/hosts' }]).split('\n')[1]).toMatch(/\s\/vda1\/etc\/hosts$/);
  });

  it('filesystems: which can be browsed, and why not', () => {
    const lines = formatFilesystems(sampleMount().filesystems).split('\n');
    expect(lines[0]).toMatch(/^NAME\s+DISK\s+KIND\s+TYPE\s+LABEL\s+SIZE\s+BROWSABLE$/);
    expect(lines[1]).toMatch(/^vda1\s+vda\s+partition\s+ext4\s+root\s+30\.0 MiB\s+yes$/);
    expect(lines[2]).toMatch(/^vda2\s+vda\s+partition\s+swap\s+-\s+2\.00 MiB\s+no: swap holds no files$/);
    expect(formatFilesystems([])).toBe('No filesystems were found on the disks.');
  });

  it('mounts: a table; none active says how to see the closed ones', () => {
    const lines = formatMounts([sampleMount(), sampleMount({ id: 4, kind: 'iscsi', state: 'CLOSED', iscsi: { disk: 'vdb', portal: '10.0.0.1:3260', target: 'iqn.x', lun: 1, initiatorNames: [], initiatorAddresses: ['10.0.0.5'], chapUser: 'u' } })], true).split('\n');
    expect(lines[0]).toMatch(/^ID\s+KIND\s+BACKUP\s+VM\s+TAKEN\s+NODE\s+STATE\s+EXPIRES\s+BY$/);
    expect(lines[1]).toMatch(/^3\s+browse\s+14\s+prod-db\s+\S+ \S+\s+n1\s+MOUNTED\s+\S+ \S+\s+admin$/);
    expect(lines[2]).toMatch(/^4\s+iscsi vdb\s+14\s+prod-db\s+\S+ \S+\s+n1\s+CLOSED\s+-\s+admin$/);
    expect(formatMounts([], false)).toBe('No active mounts; see the closed ones with vplus mount list --all.');
    expect(formatMounts([], true)).toBe('No mounts.');
  });
});

describe('download target', () => {
  it('an existing file is refused without --force; a directory takes the default name inside it', () => {
    const dir = tempDir('get');
    expect(downloadTarget(dir, undefined, 'hosts', false)).toEqual({ file: path.join(dir, 'hosts'), force: false });
    expect(downloadTarget('/', dir, 'hosts', false).file).toBe(path.join(dir, 'hosts'));
    expect(downloadTarget(dir, 'copy.txt', 'hosts', false).file).toBe(path.join(dir, 'copy.txt'));
    fs.writeFileSync(path.join(dir, 'hosts'), 'x');
    expect(() => downloadTarget(dir, undefined, 'hosts', false)).toThrow(`${path.join(dir, 'hosts')} exists already; give --force to replace it, or another name with --output`);
    expect(downloadTarget(dir, undefined, 'hosts', true).force).toBe(true);
    expect(() => downloadTarget(dir, 'missing/x', 'hosts', false)).toThrow(CliError);
    fs.mkdirSync(path.join(dir, 'sub', 'hosts'), { recursive: true });
    expect(() => downloadTarget(dir, 'sub', 'hosts', false)).toThrow(`${path.join(dir, 'sub', 'hosts')} is a directory; give another file name with --output`);
  });
});
