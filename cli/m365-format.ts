import type { M365Backup, M365ConnectionTest, M365Site, M365Tenant, M365User } from '../common/api/m365.js';
import type { BrowseEntry } from '../common/api/mounts.js';
import type { ContactSummary, EventSummary, MailMessageSummary } from '../common/api/m365-mail.js';
import { formatBytes, formatTable, formatTimestamp } from './format.js';

/** What people read of Microsoft 365 tenants, users and sites in the terminal. */

const SYNC_WORDS: Record<M365Tenant['syncState'], string> = { never: 'not synced yet', ok: 'ok', warning: 'warning', failed: 'failed' };

/** "signed in" / "permission missing" / "not tested", from the last connection test. */
export function connectionWords(t: M365Tenant): string {
  if (t.test === null) return 'not tested';
  return t.test.ok ? 'ok' : `missing ${t.test.missing.join(', ')}`;
}

export function formatTenants(tenants: readonly M365Tenant[]): string {
  if (tenants.length === 0) return 'No Microsoft 365 tenants. Add one with vplus m365 tenant add NAME --tenant-id ID --client-id ID --client-secret-stdin --node NODE.';
  const table = formatTable(
    ['ID', 'NAME', 'TENANT ID', 'NODE', 'CONNECTION', 'SYNC', 'USERS', 'SITES', 'LAST SYNC'],
    tenants.map((t) => [String(t.id), t.name, t.tenantId, t.node, connectionWords(t), SYNC_WORDS[t.syncState], String(t.users), String(t.sites), formatTimestamp(t.lastSyncAt)]),
  );
  // A problem says why in a sentence of its own; a table cell would be too narrow.
  const problems = tenants.flatMap((t) => [
    ...(t.test && !t.test.ok ? [`${t.name}: ${t.test.message}`] : []),
    ...((t.syncState === 'failed' || t.syncState === 'warning') && t.syncMessage ? [`${t.name}: ${t.syncMessage}`] : []),
  ]);
  return [table, ...problems].join('\n');
}

/** The test's sentence, then one line per permission checked. */
export function formatConnectionTest(test: M365ConnectionTest): string {
  return [test.message, ...test.checks.map((c) => `  ${c.ok ? 'ok     ' : 'MISSING'}  ${c.permission}: ${c.message}`)].join('\n');
}

export function formatUsers(users: readonly M365User[]): string {
  if (users.length === 0) return 'No users. Sync a tenant with vplus m365 tenant sync NAME --wait.';
  return formatTable(
    ['ID', 'TENANT', 'UPN', 'NAME', 'MAILBOX', 'ONEDRIVE', 'STATE', 'POLICY', 'LAST BACKUP'],
    users.map((u) => [
      String(u.id),
      u.tenant,
      u.upn,
      u.displayName,
      u.hasMailbox === null ? 'unknown' : u.hasMailbox ? 'yes' : 'no',
      u.hasDrive ? 'yes' : 'no',
      u.present ? 'present' : 'removed',
      u.policy ?? '-',
      formatTimestamp(u.lastBackupAt),
    ]),
  );
}

export function formatSites(sites: readonly M365Site[]): string {
  if (sites.length === 0) return 'No SharePoint sites. Sync a tenant with vplus m365 tenant sync NAME --wait.';
  return formatTable(
    ['ID', 'TENANT', 'NAME', 'URL', 'LIBRARIES', 'STATE', 'POLICY', 'LAST BACKUP'],
    sites.map((s) => [
      String(s.id),
      s.tenant,
      s.displayName || s.name,
      s.url ?? '-',
      s.libraries.filter((l) => l.present).map((l) => l.name).join(', ') || '-',
      s.present ? 'present' : 'removed',
      s.policy ?? '-',
      formatTimestamp(s.lastBackupAt),
    ]),
  );
}

/** `m365 backup list`: one row per backup, newest first; warnings counted here and said under the table. */
export function formatM365Backups(backups: readonly M365Backup[], filter: { subject?: string; tenant?: string } = {}): string {
  if (backups.length === 0) {
    const of = filter.subject !== undefined ? ` of ${filter.subject}` : '';
    const inTenant = filter.tenant !== undefined ? ` in tenant ${filter.tenant}` : '';
    return `No Microsoft 365 backups${of}${inTenant}. Take one with vplus m365 backup run USER|SITE --destination DEST.`;
  }
  const table = formatTable(
    ['ID', 'TENANT', 'SUBJECT', 'TYPE', 'CREATED', 'ITEMS', 'SIZE', 'STORED', 'WARNINGS', 'DESTINATION'],
    backups.map((b) => [
      String(b.id),
      b.tenant ?? '-',
      b.subject.kind === 'site' ? `site ${b.subject.name}` : b.subject.name,
      b.kind,
      formatTimestamp(b.createdAt),
      String(b.items),
      formatBytes(b.bytes),
      formatBytes(b.storedBytes),
      String(b.warnings.length),
      b.destination,
    ]),
  );
  const removed = backups.filter((b) => b.status === 'removed').map((b) => `backup ${b.id} is removed: it can no longer be browsed or restored`);
  return removed.length > 0 ? `${table}\n\n${removed.join('\n')}` : table;
}

/** "backup 12 of alice@contoso.com (2026-12-07 03:15)" */
export function describeM365Backup(b: Pick<M365Backup, 'id' | 'subject' | 'createdAt'>): string {
  return `backup ${b.id} of ${b.subject.kind === 'site' ? `site ${b.subject.name}` : b.subject.name} (${formatTimestamp(b.createdAt)})`;
}

/** `m365 browse`: TYPE SIZE MODIFIED NAME (a file's permissions and owners are not backed up). */
export function formatM365Listing(shownPath: string, entries: readonly BrowseEntry[]): string {
  if (entries.length === 0) return `${shownPath} is empty.`;
  return formatTable(
    ['TYPE', 'SIZE', 'MODIFIED', 'NAME'],
    entries.map((e) => [e.type === 'dir' ? 'folder' : e.type, e.type === 'file' ? formatBytes(e.size) : '-', formatTimestamp(e.mtime), e.type === 'dir' ? `${e.name}/` : e.name]),
  );
}

/** A mail address as one line shows it: "Bob <bob@example.com>", or the address alone. */
function addressWords(a: { name: string | null; address: string } | null): string {
  if (!a) return '-';
  return a.name && a.name !== a.address ? `${a.name} <${a.address}>` : a.address;
}

/** A cell cut to a width a terminal keeps on one line. */
function cut(text: string, width: number): string {
  const chars = [...text.replace(/\s+/g, ' ')];
  return chars.length <= width ? chars.join('') : `${chars.slice(0, width - 1).join('')}…`;
}

/** `m365 browse /mail/…`: RECEIVED FROM SUBJECT SIZE ATT NAME, newest first (the name is what restore and export take). */
export function formatMessages(shownPath: string, messages: readonly MailMessageSummary[], name: (m: MailMessageSummary) => string): string {
  if (messages.length === 0) return `No messages in ${shownPath}.`;
  return formatTable(
    ['RECEIVED', 'FROM', 'SUBJECT', 'SIZE', 'ATT', 'NAME'],
    messages.map((m) => [formatTimestamp(m.receivedAt ?? m.sentAt), cut(addressWords(m.from), 40), cut(m.subject || '(no subject)', 60), formatBytes(m.size), m.hasAttachments ? String(Math.max(1, m.attachmentNames.length)) : '-', name(m)]),
  );
}

/** `m365 browse /calendar/…`: START END SUBJECT LOCATION NAME. */
export function formatEvents(shownPath: string, events: readonly EventSummary[], name: (e: EventSummary) => string): string {
  if (events.length === 0) return `No events in ${shownPath}.`;
  return formatTable(
    ['START', 'END', 'SUBJECT', 'REPEATS', 'LOCATION', 'NAME'],
    events.map((e) => [e.isAllDay ? (e.start ?? '-').slice(0, 10) : formatTimestamp(e.start), e.isAllDay ? 'all day' : formatTimestamp(e.end), cut(e.subject || '(no subject)', 50), e.recurrence ?? (e.eventType === 'exception' ? 'changed occurrence' : '-'), cut(e.location ?? '-', 30), name(e)]),
  );
}

/** `m365 browse /contacts/…`: NAME E-MAIL PHONE COMPANY FILE. */
export function formatContacts(shownPath: string, contacts: readonly ContactSummary[], name: (c: ContactSummary) => string): string {
  if (contacts.length === 0) return `No contacts in ${shownPath}.`;
  return formatTable(
    ['NAME', 'E-MAIL', 'PHONE', 'COMPANY', 'FILE'],
    contacts.map((c) => [cut(c.displayName || '-', 40), c.emails[0] ?? '-', c.phones[0] ?? '-', cut(c.company ?? '-', 30), name(c)]),
  );
}
