import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { backupRunRequest } from '../../../cli/commands/m365-backup.command.js';
import { UsageError } from '../../../cli/errors.js';
import {
  backupPaths,
  backupSubject,
  describeRestoreTarget,
  m365MountPath,
  m365RestoreRequest,
  oneDrivePaths,
  parseConflict,
  parseM365BackupId,
  showM365Path,
} from '../../../cli/m365-backup-arguments.js';
import { formatM365Backups, formatM365Listing } from '../../../cli/m365-format.js';
import { formatTaskResult } from '../../../cli/task-results.js';
import type { M365Backup, M365BackupPart } from '../../../common/api/m365.js';
import { sampleTask } from './helpers.js';
import { sampleEntry } from './mount-samples.js';

function part(name: string, overrides: Partial<M365BackupPart> = {}): M365BackupPart {
  return { name, partKind: 'drive', driveId: `b!${name}`, objectKey: `m365:contoso:drive:b!${name}`, pointId: `p-${name}`, kind: 'full', items: 3, files: 2, folders: 1, bytes: 2048, storedBytes: 1024, ...overrides };
}

function sampleM365Backup(overrides: Partial<M365Backup> = {}): M365Backup {
  return {
    id: 12,
    tenant: 'contoso',
    tenantId: 1,
    subject: { kind: 'user', id: 4, graphId: 'g-alice', name: 'alice@contoso.com' },
    destinationId: 3,
    destination: 'nas',
    createdAt: '2026-12-07T03:15:00.000Z',
    kind: 'full',
    items: 3,
    files: 2,
    bytes: 2048,
    storedBytes: 1024,
    warnings: [],
    parts: [part('drive')],
    status: 'available',
    taskId: 31,
    ...overrides,
  };
}

const site = (parts = [part('Documents'), part('Policies')]): M365Backup => sampleM365Backup({ subject: { kind: 'site', id: 2, graphId: 'g-hr', name: 'hr' }, parts });

describe('m365 backup arguments', () => {
  it('USER|SITE: an "@" makes it a user, anything else a site; empty is a usage error', () => {
    expect(backupSubject(' alice@contoso.com ')).toEqual({ user: 'alice@contoso.com' });
    expect(backupSubject('hr')).toEqual({ site: 'hr' });
    expect(backupSubject('17')).toEqual({ site: '17' });
    expect(() => backupSubject('  ')).toThrow(UsageError);
  });

  it('backup run: the request as the API takes it; a flag the schema refuses is named', () => {
    expect(backupRunRequest('alice@contoso.com', { destination: 'nas' })).toEqual({ user: 'alice@contoso.com', destination: 'nas', full: false });
    expect(backupRunRequest('hr', { destination: 'nas', tenant: 'contoso', full: true })).toEqual({ site: 'hr', destination: 'nas', tenant: 'contoso', full: true });
    expect(() => backupRunRequest('hr', { destination: ' ' })).toThrow(/^--destination: /);
    expect(() => backupRunRequest('hr', { destination: 'nas', tenant: '' })).toThrow(/^--tenant: /);
  });

  it('ids and --conflict are checked by their parsers', () => {
    expect(parseM365BackupId('12')).toBe(12);
    for (const bad of ['0', '-3', 'x', '1.5', '']) expect(() => parseM365BackupId(bad)).toThrow(InvalidArgumentError);
    expect(parseConflict('Replace')).toBe('replace');
    expect(() => parseConflict('overwrite')).toThrow('use one of skip, copy, replace.');
  });

  it("paths: a user's /drive/… and a site's /libraries/<name>/… become the mount's, and are shown back", () => {
    expect(m365MountPath('user', '/drive/Documents/')).toBe('drive/Documents');
    expect(m365MountPath('user', 'drive')).toBe('drive');
    expect(m365MountPath('user', '/')).toBe('');
    expect(m365MountPath('site', '/libraries/Documents/Q3')).toBe('Documents/Q3');
    expect(m365MountPath('site', 'libraries')).toBe('');
    expect(m365MountPath('site', 'Documents/Q3')).toBe('Documents/Q3');
    expect(m365MountPath('site', '/libraries/libraries/x')).toBe('libraries/x');
    expect(showM365Path('user', 'drive/Documents')).toBe('/drive/Documents');
    expect(showM365Path('site', 'Documents/Q3')).toBe('/libraries/Documents/Q3');
    expect(showM365Path('site', '')).toBe('/libraries');
  });

  it('paths outside the backup\'s drives are refused naming the drives it holds; duplicates go', () => {
    const all = (): string[] => ['everything'];
    expect(backupPaths(site(), [], all)).toEqual(['everything']);
    expect(backupPaths(site(), ['/libraries/Documents/a', 'Documents/a', '/libraries/Policies'], all)).toEqual(['Documents/a', 'Policies']);
    expect(() => backupPaths(site(), ['/libraries/Archive/x'], all)).toThrow('backup 12 has no /libraries/Archive ("/libraries/Archive/x"); it holds /libraries/Documents, /libraries/Policies');
    expect(() => backupPaths(sampleM365Backup(), ['/mail/Inbox'], all)).toThrow('backup 12 has no /mail ("/mail/Inbox"); it holds /drive');
    expect(() => backupPaths(sampleM365Backup(), ['/'], all)).toThrow(/is the whole backup; name its drives instead: \/drive/);
  });

  it('restore: the only drive by default; a site of several libraries needs one named; one drive per restore', () => {
    expect(m365RestoreRequest(sampleM365Backup(), [], {})).toEqual({ paths: ['drive'], conflict: 'copy' });
    expect(() => m365RestoreRequest(site(), [], {})).toThrow('backup 12 holds /libraries/Documents, /libraries/Policies; name what to restore, e.g. /libraries/Documents');
    expect(() => m365RestoreRequest(site(), ['/libraries/Documents/a', '/libraries/Policies/b'], {})).toThrow(/one drive at a time; these paths are in \/libraries\/Documents and \/libraries\/Policies/);
    expect(m365RestoreRequest(site(), ['/libraries/Documents/a'], { to: 'sales', library: 'Archive', originalPlace: true, conflict: 'replace' })).toEqual({
      paths: ['Documents/a'],
      to: 'sales',
      toLibrary: 'Archive',
      folder: null,
      conflict: 'replace',
    });
    expect(m365RestoreRequest(sampleM365Backup(), ['/drive/a.txt'], { folder: 'Back' })).toEqual({ paths: ['drive/a.txt'], folder: 'Back', conflict: 'copy' });
  });

  it('export: one drive per zip, the only one by default', () => {
    expect(oneDrivePaths(sampleM365Backup(), [], 'export')).toEqual(['drive']);
    expect(oneDrivePaths(site(), ['/libraries/Policies'], 'export')).toEqual(['Policies']);
    expect(() => oneDrivePaths(site(), [], 'export')).toThrow('backup 12 holds /libraries/Documents, /libraries/Policies; name what to export, e.g. /libraries/Documents');
    expect(() => oneDrivePaths(site(), ['Documents', 'Policies'], 'export')).toThrow('a zip holds one drive at a time; these paths are in /libraries/Documents and /libraries/Policies: export each to a zip of its own');
  });

  it('restore: flags that contradict each other, or a --library for a OneDrive, are usage errors', () => {
    expect(() => m365RestoreRequest(sampleM365Backup(), [], { folder: 'x', originalPlace: true })).toThrow('give either --folder NAME or --original-place, not both');
    expect(() => m365RestoreRequest(sampleM365Backup(), [], { library: 'Documents' })).toThrow(/--library names a site's document library/);
    expect(() => m365RestoreRequest(site(), ['Documents'], { to: 'bob@contoso.com', library: 'Documents' })).toThrow(/--library names a site's/);
    expect(() => m365RestoreRequest(sampleM365Backup(), [], { folder: ' ' })).toThrow(/^--folder: /);
  });

  it('restore: where things go, in words', () => {
    const user = sampleM365Backup();
    expect(describeRestoreTarget(user, { paths: ['drive'] })).toBe('a new Restore-<date> folder in the OneDrive of alice@contoso.com');
    expect(describeRestoreTarget(user, { paths: ['drive'], folder: null, to: 'bob@contoso.com' })).toBe('their original places in the OneDrive of bob@contoso.com');
    expect(describeRestoreTarget(site(), { paths: ['Documents'], folder: 'Back', toLibrary: 'Archive' })).toBe('folder "Back" in library Archive of site hr');
    expect(describeRestoreTarget(site(), { paths: ['Policies/a.txt'] })).toBe('a new Restore-<date> folder in library Policies of site hr');
    expect(describeRestoreTarget(site(), { paths: ['Policies'], to: 'sales', folder: null })).toBe('their original places in library Policies of site sales');
    expect(describeRestoreTarget(user, { paths: ['drive/a'], to: 'sales' })).toBe('a new Restore-<date> folder in site sales');
  });
});

describe('m365 backup output', () => {
  it('backup list: a row per backup with its warnings counted; removed ones said under the table', () => {
    const text = formatM365Backups([
      sampleM365Backup({ warnings: ['a.txt could not be read', 'b.txt could not be read'] }),
      site([part('Documents')]),
      sampleM365Backup({ id: 9, status: 'removed', kind: 'incremental' }),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^ID\s+TENANT\s+SUBJECT\s+TYPE\s+CREATED\s+ITEMS\s+SIZE\s+STORED\s+WARNINGS\s+DESTINATION$/);
    expect(lines[1]).toMatch(/^12\s+contoso\s+alice@contoso\.com\s+full\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+3\s+2\.00 KiB\s+1\.00 KiB\s+2\s+nas$/);
    expect(lines[2]).toMatch(/^12\s+contoso\s+site hr\s+full\s/);
    expect(text).toContain('\n\nbackup 9 is removed: it can no longer be browsed or restored');
    expect(formatM365Backups([], { subject: 'hr' })).toBe('No Microsoft 365 backups of hr. Take one with vplus m365 backup run USER|SITE --destination DEST.');
  });

  it('browse: folders marked, file sizes, no modes or owners', () => {
    const text = formatM365Listing('/drive', [sampleEntry({ name: 'Documents', type: 'dir', size: 0 }), sampleEntry({ name: 'a.txt', size: 1536 })]);
    expect(text.split('\n')).toEqual([expect.stringMatching(/^TYPE\s+SIZE\s+MODIFIED\s+NAME$/), expect.stringMatching(/^folder\s+-\s+\S+ \S+\s+Documents\/$/), expect.stringMatching(/^file\s+1\.50 KiB\s+\S+ \S+\s+a\.txt$/)]);
    expect(formatM365Listing('/libraries/Documents', [])).toBe('/libraries/Documents is empty.');
  });

  it('M365_BACKUP result: totals, a row per drive, a drive listed again said', () => {
    const point = (name: string, over: Record<string, unknown> = {}) => ({
      part: name, objectKey: `k-${name}`, driveId: `d-${name}`, pointId: `p-${name}`, createdAt: '2026-12-07T03:15:00.000Z', kind: 'incremental', resynced: false,
      items: 10, files: 8, folders: 2, bytes: 4096, added: 1, changed: 2, removed: 0, downloadedFiles: 3, downloadedBytes: 1024, storedBytes: 512, ...over,
    });
    const task = sampleTask({ type: 'M365_BACKUP', state: 'FINISHED', result: { runId: 'r1', points: [point('Documents'), point('Policies', { resynced: true, kind: 'full' })] } });
    const text = formatTaskResult(task)!;
    expect(text.split('\n')[0]).toBe('Backed up 2 drives: 20 items (16 files, 4 folders, 8.00 KiB); read 6 files (2.00 KiB), stored 1.00 KiB.');
    expect(text).toMatch(/\n {2}DRIVE\s+TYPE\s+ITEMS\s+FILES\s+SIZE\s+ADDED\s+CHANGED\s+REMOVED\s+READ\s+STORED\n {2}Documents\s+incremental\s+10\s+8\s+4\.00 KiB\s+1\s+2\s+0\s+1\.00 KiB\s+512 B\n/);
    expect(text).toContain('Policies: the change list had expired, so the whole drive was listed again and compared with the last backup.');
    expect(formatTaskResult({ ...task, result: { runId: 'r1', points: [] } })).toBe('Nothing was backed up; the warnings above say why.');
  });

  it('M365_RESTORE result: what was restored where, then each item skipped or failed by name', () => {
    const task = sampleTask({
      type: 'M365_RESTORE',
      state: 'FINISHED_WITH_WARNINGS',
      params: { m365TenantId: 1, destinationId: 3, m365BackupId: 12, objectKey: 'k', pointId: 'p', paths: ['/'], target: { kind: 'user', id: 4, driveId: 'd', label: 'the OneDrive of alice@contoso.com' }, folder: null, conflict: 'skip' },
      result: { restoredFiles: 3, restoredFolders: 1, restoredBytes: 2048, targetRoot: '/Restore-2026-12-07 0315', skipped: [{ path: '/Documents/a.txt', reason: 'it exists (conflict: skip)' }], failed: [{ path: '/b.bin', reason: 'Graph answered 507' }] },
    });
    expect(formatTaskResult(task)).toBe(
      [
        'Restored 3 files and 1 folder (2.00 KiB) to /Restore-2026-12-07 0315 in the OneDrive of alice@contoso.com.',
        'Skipped 1 item:',
        '  /Documents/a.txt: it exists (conflict: skip)',
        'Could not restore 1 item:',
        '  /b.bin: Graph answered 507',
      ].join('\n'),
    );
  });
});
