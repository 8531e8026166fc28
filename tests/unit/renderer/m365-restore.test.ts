import { describe, expect, it } from 'vitest';
import type { M365Backup, M365Site, M365User } from '../../../common/api/m365.js';
import {
  defaultLibrary,
  drivesOf,
  parseTarget,
  restoreFolderExample,
  restoreRequestOf,
  restoreTargetOptions,
  type RestoreChoices,
} from '../../../renderer/src/pages/m365/m365-restore.js';

const choices = (over: Partial<RestoreChoices> = {}): RestoreChoices => ({
  paths: ['drive/Documents/a.docx'],
  where: 'original',
  target: null,
  library: null,
  folderMode: 'new',
  folderName: '',
  conflict: 'copy',
  ...over,
});

function user(over: Partial<M365User>): M365User {
  return {
    id: 1,
    tenant: 'northwind',
    graphId: 'g-1',
    upn: 'a@x.com',
    displayName: 'A',
    mail: null,
    enabled: true,
    driveId: 'd',
    hasDrive: true,
    hasMailbox: false,
    present: true,
    lastSeenAt: '2026-12-07T00:00:00.000Z',
    removedAt: null,
    policy: null,
    lastBackupAt: null,
    ...over,
  };
}

function site(over: Partial<M365Site>, libraries: string[] = ['Documents']): M365Site {
  return {
    id: 1,
    tenant: 'northwind',
    graphId: 's-1',
    name: 'finance',
    displayName: 'Finance',
    url: null,
    present: true,
    lastSeenAt: '2026-12-07T00:00:00.000Z',
    removedAt: null,
    libraries: libraries.map((name, index) => ({ id: index + 1, driveId: `l${index}`, name, url: null, present: true, policy: null, lastBackupAt: null })),
    policy: null,
    lastBackupAt: null,
    ...over,
  };
}

const aliceBackup: Pick<M365Backup, 'subject'> = { subject: { kind: 'user', id: 1, graphId: 'g-alice', name: 'alice@x.com' } };

describe('the Microsoft 365 restore wizard: what its choices send', () => {
  it('defaults: to the original place, into a new folder the server names, keeping both on a conflict', () => {
    expect(restoreRequestOf(choices())).toEqual({ request: { paths: ['drive/Documents/a.docx'], conflict: 'copy' } });
  });

  it('a named new folder, or the original places (folder null)', () => {
    expect(restoreRequestOf(choices({ folderName: '  Recovered  ' }))).toEqual({ request: { paths: ['drive/Documents/a.docx'], folder: 'Recovered', conflict: 'copy' } });
    expect(restoreRequestOf(choices({ folderMode: 'original', folderName: 'ignored', conflict: 'replace' }))).toEqual({
      request: { paths: ['drive/Documents/a.docx'], folder: null, conflict: 'replace' },
    });
  });

  it('another user by UPN; a site by name with its library', () => {
    expect(restoreRequestOf(choices({ where: 'other', target: 'user:bob@x.com', conflict: 'skip' }))).toEqual({
      request: { paths: ['drive/Documents/a.docx'], to: 'bob@x.com', conflict: 'skip' },
    });
    expect(restoreRequestOf(choices({ where: 'other', target: 'site:finance', library: 'Archive' }))).toEqual({
      request: { paths: ['drive/Documents/a.docx'], to: 'finance', toLibrary: 'Archive', conflict: 'copy' },
    });
  });

  it('says under which field what is missing', () => {
    expect(restoreRequestOf(choices({ where: 'other' }))).toEqual({ errors: { to: 'Choose the user or site to restore to' } });
    expect(restoreRequestOf(choices({ where: 'other', target: 'site:finance' }))).toEqual({ errors: { toLibrary: 'Choose the document library to restore into' } });
    expect(restoreRequestOf(choices({ paths: [] }))).toEqual({ errors: { paths: 'Choose what to restore' } });
    expect(restoreRequestOf(choices({ paths: ['Documents/a', 'Archive/b'] }))).toEqual({ errors: { paths: 'A restore takes the files of one drive: restore each drive on its own' } });
    // The contract's limit, in plain words under the folder's field.
    const long = restoreRequestOf(choices({ folderName: 'x'.repeat(300) }));
    expect(long).toEqual({ errors: { folder: 'The folder must be at most 255 characters' } });
  });

  it('finds the drive of each path', () => {
    expect(drivesOf(['drive/a', 'drive/b/c', 'drive'])).toEqual(['drive']);
    expect(drivesOf(['Documents/Q3', 'Archive'])).toEqual(['Documents', 'Archive']);
  });

  it('reads a target back', () => {
    expect(parseTarget('user:bob@x.com')).toEqual({ kind: 'user', ref: 'bob@x.com' });
    expect(parseTarget('site:a:b')).toEqual({ kind: 'site', ref: 'a:b' });
    expect(parseTarget('vm:web')).toBeNull();
    expect(parseTarget('user:')).toBeNull();
  });

  it('offers the other users with a OneDrive and the sites with a library, present in the tenant', () => {
    const users = [
      user({ id: 1, graphId: 'g-alice', upn: 'alice@x.com', displayName: 'Alice' }),
      user({ id: 2, graphId: 'g-bob', upn: 'bob@x.com', displayName: 'Bob' }),
      user({ id: 3, graphId: 'g-carol', upn: 'carol@x.com', displayName: 'Carol', hasDrive: false }),
      user({ id: 4, graphId: 'g-dave', upn: 'dave@x.com', displayName: '', present: false }),
    ];
    const sites = [site({ id: 1 }), site({ id: 2, graphId: 's-2', name: 'empty', displayName: 'empty' }, [])];
    expect(restoreTargetOptions(aliceBackup, users, sites)).toEqual([
      { group: 'Users (OneDrive)', items: [{ value: 'user:bob@x.com', label: 'Bob (bob@x.com)' }] },
      { group: 'Sites', items: [{ value: 'site:finance', label: 'Finance (finance)' }] },
    ]);
  });

  it('preselects the library of the same name, else Documents, else the first', () => {
    expect(defaultLibrary(site({}, ['Documents', 'Archive']), 'Archive')).toBe('Archive');
    expect(defaultLibrary(site({}, ['Archive', 'Documents']), 'drive')).toBe('Documents');
    expect(defaultLibrary(site({}, ['Archive', 'Shared']), 'drive')).toBe('Archive');
    expect(defaultLibrary(site({}, []), 'drive')).toBeNull();
  });

  it('names the default folder as the server does', () => {
    expect(restoreFolderExample(new Date(Date.UTC(2026, 11, 7, 3, 15)))).toBe('Restore-2026-12-07 0315');
  });
});
