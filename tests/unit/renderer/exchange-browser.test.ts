import { describe, expect, it } from 'vitest';
import type { M365Backup, M365User } from '../../../common/api/m365.js';
import { MailSearchQuerySchema, MountExportQuerySchema } from '../../../common/api/m365-mail.js';
import { exchangeRestoreRequestOf, mailboxTargetOptions, partOfPaths, type ExchangeRestoreChoices } from '../../../renderer/src/pages/exchange/exchange-restore.js';
import { dayEnd, dayStart } from '../../../renderer/src/utils/day-range.js';
import {
  EMPTY_MAIL_SEARCH,
  exchangePartsOf,
  exportFormatsFor,
  exportUrl,
  formatAddress,
  hasDrivePart,
  isMailSearchEmpty,
  mailAttachmentUrl,
  mailPreviewUrl,
  mailSearchCriteria,
  queryParams,
} from '../../../renderer/src/utils/exchange-format.js';

type Part = M365Backup['parts'][number];
// partKind: as the server sends it; absent from servers before Exchange backup.
const part = (name: string, partKind?: string): Part => ({ name, ...(partKind === undefined ? {} : { partKind }), driveId: 'd', objectKey: `k-${name}`, pointId: 'p', items: 0, files: 0, folders: 0, bytes: 0, storedBytes: 0 }) as unknown as Part;
const userBackup = (parts: Part[]) => ({ subject: { kind: 'user' as const, id: 1, graphId: 'g-alice', name: 'alice@x.com' }, parts });

describe('the mail browser: which parts a backup has', () => {
  it('a user backup with mail, calendar and contacts, by their kind or (older answers) their folder name', () => {
    expect(exchangePartsOf(userBackup([part('drive', 'drive'), part('contacts', 'contacts'), part('mail', 'mail')]))).toEqual(['mail', 'contacts']);
    expect(exchangePartsOf(userBackup([part('drive'), part('mail'), part('calendar')]))).toEqual(['mail', 'calendar']);
    expect(hasDrivePart(userBackup([part('drive'), part('mail')]))).toBe(true);
    expect(hasDrivePart(userBackup([part('mail', 'mail'), part('calendar', 'calendar')]))).toBe(false);
  });

  it('a site library named "mail" is a drive, not a mailbox', () => {
    expect(exchangePartsOf({ subject: { kind: 'site', id: 1, graphId: 's', name: 'sales' }, parts: [part('mail')] })).toEqual([]);
    expect(exchangePartsOf(userBackup([part('drive', 'drive')]))).toEqual([]);
    expect(exchangePartsOf(undefined)).toEqual([]);
  });
});

describe('the mail browser: what a search sends', () => {
  it('only the criteria given, trimmed; days as the start of the first and the end of the last, local time', () => {
    const outcome = mailSearchCriteria({ ...EMPTY_MAIL_SEARCH, q: '  invoice ', from: 'bob@', attachment: 'q3.pdf', after: '2026-01-05', before: '2026-01-07', hasAttachments: true });
    expect(outcome).toEqual({ criteria: { q: 'invoice', from: 'bob@', attachment: 'q3.pdf', after: dayStart('2026-01-05'), before: dayEnd('2026-01-07'), hasAttachments: true } });
    if (!('criteria' in outcome)) throw new Error('expected criteria');
    // The server takes what is sent.
    expect(MailSearchQuerySchema.safeParse({ path: 'mail', ...queryParams(outcome.criteria) }).success).toBe(true);
    expect(mailSearchCriteria({ ...EMPTY_MAIL_SEARCH, subject: 'x' })).toEqual({ criteria: { subject: 'x' } });
  });

  it('a range that ends before it starts is refused with words', () => {
    expect(mailSearchCriteria({ ...EMPTY_MAIL_SEARCH, after: '2026-02-01', before: '2026-01-01' })).toEqual({ error: 'The last day is before the first one' });
    expect(mailSearchCriteria({ ...EMPTY_MAIL_SEARCH, after: 'yesterday' })).toEqual({ error: 'The first day must be a date (2026-01-31)' });
  });

  it('an empty bar is no search', () => {
    expect(isMailSearchEmpty(EMPTY_MAIL_SEARCH)).toBe(true);
    expect(isMailSearchEmpty({ ...EMPTY_MAIL_SEARCH, q: '   ' })).toBe(true);
    expect(isMailSearchEmpty({ ...EMPTY_MAIL_SEARCH, hasAttachments: true })).toBe(false);
  });

  it('query parameters leave false and empty out: the server reads "false" as true', () => {
    expect(queryParams({ path: 'mail', q: '', hasAttachments: false, recursive: true, offset: 0, x: undefined })).toEqual({ path: 'mail', recursive: 'true', offset: 0 });
    // What the server makes of it: a boolean that is absent is not set.
    expect(MailSearchQuerySchema.parse(queryParams({ path: 'mail', hasAttachments: false })).hasAttachments).toBeUndefined();
  });

  it('addresses: the name with the address, or the address alone', () => {
    expect(formatAddress({ name: 'Bob Baker', address: 'bob@x.com' })).toBe('Bob Baker <bob@x.com>');
    expect(formatAddress({ name: null, address: 'bob@x.com' })).toBe('bob@x.com');
    expect(formatAddress({ name: 'bob@x.com', address: 'bob@x.com' })).toBe('bob@x.com');
    expect(formatAddress(null)).toBe('');
  });
});

describe('the mail browser: preview, attachment and export addresses', () => {
  it('paths are URL-encoded, whatever a subject holds', () => {
    const path = 'mail/Inbox/Grüße & <b>"hi"</b> ~1a2b3c4d.eml';
    expect(new URL(mailPreviewUrl(7, path), 'https://h').searchParams.get('path')).toBe(path);
    const attachment = new URL(mailAttachmentUrl(7, path, 2), 'https://h');
    expect([attachment.pathname, attachment.searchParams.get('path'), attachment.searchParams.get('index')]).toEqual(['/api/mounts/7/mail/attachment', path, '2']);
  });

  it('one message as EML is the file itself; the rest the export route builds from every path', () => {
    expect(exportUrl(3, 'eml', ['mail/Inbox/a ~1.eml'])).toBe('/api/mounts/3/content?path=mail%2FInbox%2Fa+%7E1.eml&download=1');
    expect(() => exportUrl(3, 'eml', ['a.eml', 'b.eml'])).toThrow();
    const mbox = new URL(exportUrl(3, 'mbox', ['mail/Inbox', 'mail/Sent Items']), 'https://h');
    expect(mbox.pathname).toBe('/api/mounts/3/export');
    const query = { format: mbox.searchParams.get('format'), path: mbox.searchParams.getAll('path') };
    expect(query).toEqual({ format: 'mbox', path: ['mail/Inbox', 'mail/Sent Items'] });
    expect(MountExportQuerySchema.parse(query)).toEqual(query);
  });

  it('the formats offered fit what is chosen', () => {
    expect(exportFormatsFor('mail', ['mail/Inbox/a ~1.eml']).map((f) => f.format)).toEqual(['eml', 'mbox', 'zip']);
    expect(exportFormatsFor('mail', ['mail/Inbox']).map((f) => f.format)).toEqual(['mbox', 'zip']);
    expect(exportFormatsFor('calendar', ['calendar/Calendar']).map((f) => f.format)).toEqual(['ics', 'zip']);
    expect(exportFormatsFor('contacts', ['contacts']).map((f) => f.format)).toEqual(['vcf', 'zip']);
    expect(exportFormatsFor('mail', [])).toEqual([]);
  });
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
    hasMailbox: true,
    present: true,
    lastSeenAt: '2026-12-07T00:00:00.000Z',
    removedAt: null,
    policy: null,
    lastBackupAt: null,
    ...over,
  };
}

const choices = (over: Partial<ExchangeRestoreChoices> = {}): ExchangeRestoreChoices => ({
  paths: ['mail/Inbox/Hello ~1a2b3c4d.eml'],
  where: 'original',
  target: null,
  folderMode: 'new',
  folderName: '',
  conflict: 'skip',
  ...over,
});

describe('the Exchange restore dialog: what its choices send', () => {
  it('defaults: the original mailbox, a new folder the server names', () => {
    expect(exchangeRestoreRequestOf(choices())).toEqual({ request: { paths: ['mail/Inbox/Hello ~1a2b3c4d.eml'], conflict: 'skip' } });
  });

  it('another user by UPN, a named folder or the original folders', () => {
    expect(exchangeRestoreRequestOf(choices({ where: 'other', target: 'bob@x.com', folderName: ' Back ', conflict: 'copy' }))).toEqual({
      request: { paths: ['mail/Inbox/Hello ~1a2b3c4d.eml'], to: 'bob@x.com', folder: 'Back', conflict: 'copy' },
    });
    expect(exchangeRestoreRequestOf(choices({ folderMode: 'original', folderName: 'ignored', conflict: 'replace' }))).toEqual({
      request: { paths: ['mail/Inbox/Hello ~1a2b3c4d.eml'], folder: null, conflict: 'replace' },
    });
  });

  it('refusals under their field: no user chosen; nothing, or mail and events together', () => {
    expect(exchangeRestoreRequestOf(choices({ where: 'other' }))).toEqual({ errors: { to: 'Choose the user to restore to' } });
    expect(exchangeRestoreRequestOf(choices({ paths: [] }))).toEqual({ errors: { paths: 'Choose what to restore' } });
    expect(exchangeRestoreRequestOf(choices({ paths: ['mail/Inbox', 'calendar/Calendar'] }))).toMatchObject({ errors: { paths: expect.stringContaining('each on its own') } });
    expect(exchangeRestoreRequestOf(choices({ folderName: 'x'.repeat(300) }))).toMatchObject({ errors: { folder: expect.any(String) } });
    expect(partOfPaths(['contacts/Suppliers/Zoë ~1.vcf', 'contacts'])).toBe('contacts');
    expect(partOfPaths(['drive/a.txt'])).toBeNull();
  });

  it('other users: present ones with a mailbox, never the backup’s own', () => {
    const options = mailboxTargetOptions({ subject: { kind: 'user', id: 1, graphId: 'g-alice', name: 'alice@x.com' } }, [
      user({ graphId: 'g-alice', upn: 'alice@x.com', displayName: 'Alice' }),
      user({ graphId: 'g-bob', upn: 'bob@x.com', displayName: 'Bob' }),
      user({ graphId: 'g-carol', upn: 'carol@x.com', displayName: 'Carol', hasMailbox: false }),
      user({ graphId: 'g-dan', upn: 'dan@x.com', displayName: '', present: false }),
      user({ graphId: 'g-eve', upn: 'eve@x.com', displayName: '' }),
      { ...user({ graphId: 'g-fay', upn: 'fay@x.com', displayName: 'Fay' }), hasMailbox: null },
    ]);
    expect(options).toEqual([
      { value: 'bob@x.com', label: 'Bob (bob@x.com)' },
      { value: 'eve@x.com', label: 'eve@x.com' },
      { value: 'fay@x.com', label: 'Fay (fay@x.com), mailbox not confirmed' },
    ]);
  });
});
