import { afterAll, describe, expect, it } from 'vitest';
import { chooseDestination, describeSteps, followHint } from '../../../cli/commands/backup.command.js';
import { validateHypervisorName, validateLibvirtUri } from '../../../cli/commands/hypervisor.command.js';
import { describeRestore, parseBackupId, restoreRequest } from '../../../cli/commands/restore.command.js';
import { excludedAfter, parseDiskList } from '../../../cli/commands/vm.command.js';
import { CliError, UsageError } from '../../../cli/errors.js';
import { removeTempDirs, runVplus, sampleVm, unusedPort } from './helpers.js';

afterAll(removeTempDirs);

describe('hypervisor arguments', () => {
  it('names and libvirt URIs are checked against the API schema', () => {
    expect(validateHypervisorName('kvm-1.office')).toBe('kvm-1.office');
    expect(() => validateHypervisorName('kvm 1')).toThrow(/invalid hypervisor name "kvm 1": hypervisor names may contain letters/);
    expect(() => validateHypervisorName('-kvm')).toThrow(UsageError);
    expect(validateLibvirtUri('qemu:///system')).toBe('qemu:///system');
    expect(validateLibvirtUri('qemu+ssh://root@host/system')).toBe('qemu+ssh://root@host/system');
    expect(() => validateLibvirtUri('xen:///')).toThrow(/--uri "xen:\/\/\/": a libvirt URI such as qemu:\/\/\/system/);
  });
});

describe('--disks', () => {
  it('takes disk targets separated by commas, each once', () => {
    expect(parseDiskList('vdb,vdc')).toEqual(['vdb', 'vdc']);
    expect(parseDiskList(' vdb , vdc,vdb,')).toEqual(['vdb', 'vdc']);
    expect(parseDiskList('sda')).toEqual(['sda']);
  });

  it.each([
    ['', /--disks needs disk targets separated by commas, e.g. --disks vda,vdb/],
    [' , ', /--disks needs disk targets/],
    ['vd a', /--disks: "vd a" is not a disk target/],
    ['vda;vdb', /"vda;vdb" is not a disk target/],
    ['x'.repeat(33), /is not a disk target/],
  ])('refuses %j', (value, message) => {
    expect(() => parseDiskList(value)).toThrow(UsageError);
    expect(() => parseDiskList(value)).toThrow(message);
  });

  it('exclude and include change the excluded set, in the order of the VM disks', () => {
    const vm = sampleVm({
      disks: ['vda', 'vdb', 'vdc'].map((target) => ({ target, path: null, format: 'qcow2', virtualBytes: 1, allocatedBytes: 1, excluded: target === 'vdc' })),
    });
    expect(excludedAfter(vm, 'exclude', ['vdb'])).toEqual(['vdb', 'vdc']);
    expect(excludedAfter(vm, 'exclude', ['vdc'])).toEqual(['vdc']);
    expect(excludedAfter(vm, 'include', ['vdc'])).toEqual([]);
    expect(excludedAfter(vm, 'include', ['vda'])).toEqual(['vdc']);
    expect(() => excludedAfter(vm, 'exclude', ['vdx', 'vdb'])).toThrow('VM "prod-db" has no disk vdx; its disks are vda, vdb, vdc');
    expect(() => excludedAfter(vm, 'include', ['vdz'])).toThrow(CliError);
    expect(() => excludedAfter(vm, 'exclude', ['vda', 'vdb'])).toThrow('that would leave every disk of VM "prod-db" out of its backups; keep at least one');
  });
});

describe('backup run arguments', () => {
  it('chooses the destination named, else the only one; several need --destination (exit 2), none is an error (exit 1)', () => {
    expect(chooseDestination('usb', [{ name: 'nas' }, { name: 'usb' }])).toEqual({ name: 'usb', chosen: false });
    expect(chooseDestination(undefined, [{ name: 'nas' }])).toEqual({ name: 'nas', chosen: true });
    const several = (): unknown => chooseDestination(undefined, [{ name: 'nas' }, { name: 'usb' }]);
    expect(several).toThrow(UsageError);
    expect(several).toThrow('there are 2 destinations (nas, usb); choose one with --destination');
    const none = (): unknown => chooseDestination(undefined, []);
    expect(none).toThrow('there is no destination to store the backup in; add one with vplus destination add NAME --node NODE --path DIR');
    expect(none).not.toThrow(UsageError);
  });

  it('names the steps of a workflow and how to follow them', () => {
    expect(describeSteps([31, 32], ['EXPORT', 'STORE'])).toBe('tasks 31 (EXPORT) and 32 (STORE)');
    expect(describeSteps([51], ['RESTORE'])).toBe('task 51 (RESTORE)');
    expect(describeSteps([1, 2, 3], ['A'])).toBe('tasks 1 (A), 2 and 3');
    expect(followHint([31, 32])).toBe('Follow it with: vplus task wait 31 && vplus task wait 32');
  });
});

describe('restore arguments', () => {
  it('BACKUP is a catalog id', () => {
    expect(parseBackupId('42')).toBe(42);
    expect(() => parseBackupId('0')).toThrow(/a backup is given by its id in the catalog/);
    expect(() => parseBackupId('2025-01-31T100000Z-ab12')).toThrow(/positive whole number as vplus backup list shows it/);
  });

  it('to files: --node and --path, qcow2 unless told, the disks chosen, never overwriting unless told', () => {
    expect(restoreRequest(42, { node: 'n1', path: '/restore/prod-db/' })).toEqual({
      mode: 'files',
      backup: 42,
      node: 'n1',
      path: '/restore/prod-db',
      format: 'qcow2',
      overwrite: false,
    });
    expect(restoreRequest(42, { node: 'n1', path: '/restore', format: 'raw', disks: 'vda, vdb', overwrite: true })).toEqual({
      mode: 'files',
      backup: 42,
      node: 'n1',
      path: '/restore',
      format: 'raw',
      disks: ['vda', 'vdb'],
      overwrite: true,
    });
  });

  it('--import: --hypervisor and --name, optionally a storage directory and starting it', () => {
    expect(restoreRequest(42, { import: true, hypervisor: 'kvm1', name: 'prod-db-copy' })).toEqual({
      mode: 'import',
      backup: 42,
      hypervisor: 'kvm1',
      name: 'prod-db-copy',
      start: false,
      overwrite: false,
    });
    expect(restoreRequest(42, { import: true, hypervisor: 'kvm1', name: 'copy', storageDir: '/srv/vms/', start: true, overwrite: true })).toEqual({
      mode: 'import',
      backup: 42,
      hypervisor: 'kvm1',
      name: 'copy',
      storageDir: '/srv/vms',
      start: true,
      overwrite: true,
    });
  });

  it.each([
    [{}, /a restore to files needs --node and --path \(or --import to restore into a hypervisor\): vplus restore BACKUP --node NODE --path DIR/],
    [{ node: 'n1' }, /a restore to files needs --path \(/],
    [{ node: 'n1', path: 'restore' }, /--path "restore": the path must be absolute/],
    [{ node: 'n1', path: '/r', disks: 'vd a' }, /--disks: "vd a" is not a disk target/],
    [{ node: 'n1', path: '/r', start: true }, /--start goes with --import: vplus restore BACKUP --import --hypervisor HYPERVISOR --name NEWNAME/],
    [{ node: 'n1', path: '/r', name: 'x', hypervisor: 'kvm1' }, /--hypervisor, --name go with --import/],
    [{ import: true }, /--import needs --hypervisor and --name: vplus restore BACKUP --import/],
    [{ import: true, hypervisor: 'kvm1' }, /--import needs --name:/],
    [{ import: true, hypervisor: 'kvm1', name: 'bad name' }, /--name: VM names may contain letters, digits/],
    [{ import: true, hypervisor: 'kvm1', name: 'copy', storageDir: 'vms' }, /--storage-dir "vms": the directory must be absolute/],
    [{ import: true, hypervisor: 'kvm1', name: 'copy', node: 'n1', disks: 'vda' }, /--node, --disks are for a restore to files, not with --import/],
    [{ import: true, hypervisor: 'kvm1', name: 'copy', format: 'raw' as const }, /--format is for a restore to files, not with --import/],
  ])('refuses %j', (options, message) => {
    expect(() => restoreRequest(42, options)).toThrow(UsageError);
    expect(() => restoreRequest(42, options)).toThrow(message);
  });

  it('says what it restores where', () => {
    expect(describeRestore(restoreRequest(42, { node: 'n1', path: '/restore', disks: 'vda' }))).toBe('Restoring backup 42 (disks vda) as qcow2 to /restore on node n1');
    expect(describeRestore(restoreRequest(42, { import: true, hypervisor: 'kvm1', name: 'copy', storageDir: '/srv', start: true }))).toBe(
      'Restoring backup 42 into hypervisor kvm1 as the new VM copy with its disks in /srv/copy, then starting it',
    );
  });
});

/** CLI.md: usage errors exit 2, with one sentence on stderr, nothing on stdout, and no request. */
describe('hypervisor, vm, backup and restore usage errors exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['hypervisor add without --node', ['hypervisor', 'add', 'kvm1'], /required option '--node <node>'/],
    ['hypervisor add with a bad name', ['hypervisor', 'add', 'kvm 1', '--node', 'n1'], /invalid hypervisor name "kvm 1"/],
    ['hypervisor add with a bad URI', ['hypervisor', 'add', 'kvm1', '--node', 'n1', '--uri', 'http://host'], /--uri "http:\/\/host": a libvirt URI such as qemu:\/\/\/system/],
    ['hypervisor sync without a name', ['hypervisor', 'sync'], /missing required argument 'name'/],
    ['hypervisor remove with two names', ['hypervisor', 'remove', 'a', 'b'], /too many arguments/],
    ['vm show without a VM', ['vm', 'show'], /missing required argument 'vm'/],
    ['vm exclude without --disks', ['vm', 'exclude', 'prod-db'], /required option '--disks <list>'/],
    ['vm exclude with an empty list', ['vm', 'exclude', 'prod-db', '--disks', ','], /--disks needs disk targets/],
    ['vm include with a bad disk', ['vm', 'include', 'prod-db', '--disks', 'vda,v b'], /--disks: "v b" is not a disk target/],
    ['backup run without a VM', ['backup', 'run'], /missing required argument 'vm'/],
    ['backup run with an unknown flag', ['backup', 'run', 'prod-db', '--incremental'], /unknown option '--incremental'/],
    ['restore without a backup', ['restore'], /missing required argument 'backup'/],
    ['restore with a repository id', ['restore', '2025-01-31T100000Z-ab12', '--node', 'n1', '--path', '/r'], /a backup is given by its id in the catalog/],
    ['restore without --path', ['restore', '42', '--node', 'n1'], /a restore to files needs --path/],
    ['restore with a bad format', ['restore', '42', '--node', 'n1', '--path', '/r', '--format', 'vmdk'], /--format is qcow2 or raw/],
    ['restore --import without --name', ['restore', '42', '--import', '--hypervisor', 'kvm1'], /--import needs --name/],
    ['restore --import with --path', ['restore', '42', '--import', '--hypervisor', 'kvm1', '--name', 'copy', '--path', '/r'], /--path is for a restore to files/],
    ['restore --start without --import', ['restore', '42', '--node', 'n1', '--path', '/r', '--start'], /--start goes with --import/],
  ];

  for (const [what, argv, message] of cases) {
    it(`for ${what}`, async () => {
      // A server that is not there: a usage error must come before any connection.
      const port = await unusedPort();
      const run = await runVplus(argv, { env: { VPLUS_SERVER: `https://127.0.0.1:${port}`, VPLUS_FINGERPRINT: 'ab'.repeat(32), VPLUS_TOKEN: 't' } });
      expect(run.stderr).toMatch(message);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
    });
  }
});
