import type { M365Backup } from '@common/api/index.js';
import type { MailAddressView, MailSearchQuery } from '@common/api/m365-mail.js';
import { dayEnd, dayStart } from './day-range.js';

/**
 * The Exchange parts of a Microsoft 365 backup, browsed as the mount's "mail", "calendar" and
 * "contacts" folders (common/api/m365-mail.ts). Pure, so what the mail browser sends is
 * tested without a browser.
 */
export const EXCHANGE_PARTS = ['mail', 'calendar', 'contacts'] as const;
export type ExchangePart = (typeof EXCHANGE_PARTS)[number];

const isExchangePart = (value: string): value is ExchangePart => (EXCHANGE_PARTS as readonly string[]).includes(value);

/**
 * Which Exchange parts a backup holds, in the order the browser shows them. A part says its
 * kind; a part from before kinds existed is a drive. A site's library may be called "mail":
 * only a user's backup has a mailbox.
 */
export function exchangePartsOf(backup: Pick<M365Backup, 'subject' | 'parts'> | undefined): ExchangePart[] {
  if (backup === undefined || backup.subject.kind !== 'user') return [];
  const kinds = new Set(backup.parts.map((part) => partKindOf(part) ?? part.name));
  return EXCHANGE_PARTS.filter((part) => kinds.has(part));
}

/** Whether the backup holds a drive (a OneDrive) besides its Exchange parts. */
export function hasDrivePart(backup: Pick<M365Backup, 'parts'>): boolean {
  return backup.parts.some((part) => {
    const kind = partKindOf(part);
    return kind === undefined ? !isExchangePart(part.name) : kind === 'drive';
  });
}

/** A part's kind as the server says it (partKind), when it does: servers from before Exchange backup do not. */
function partKindOf(part: object): string | undefined {
  const kind: unknown = (part as { partKind?: unknown }).partKind;
  return typeof kind === 'string' ? kind : undefined;
}

/** The part (first folder) a mount path is in: "mail" of "mail/Inbox/a.eml". */
export function exchangePartOf(path: string): ExchangePart | null {
  const first = path.split('/').find((part) => part !== '') ?? '';
  return isExchangePart(first) ? first : null;
}

/** "Alice Archer <alice@contoso.com>", or the address alone when there is no name. */
export function formatAddress(address: MailAddressView | null): string {
  if (address === null) return '';
  const name = address.name?.trim() ?? '';
  return name === '' || name === address.address ? address.address : `${name} <${address.address}>`;
}

/** A list's short form for a table: the names (or addresses), comma-separated. */
export function formatAddressNames(addresses: readonly MailAddressView[]): string {
  return addresses.map((address) => (address.name?.trim() || address.address)).join(', ');
}

export function formatAddresses(addresses: readonly MailAddressView[]): string {
  return addresses.map(formatAddress).join(', ');
}

/** What the search bar holds; empty strings are criteria not given. Dates are days (YYYY-MM-DD), the range inclusive. */
export interface MailSearchForm {
  q: string;
  from: string;
  subject: string;
  attachment: string;
  /** Received on or after this day. */
  after: string;
  /** Received on or before this day. */
  before: string;
  hasAttachments: boolean;
}

export const EMPTY_MAIL_SEARCH: MailSearchForm = { q: '', from: '', subject: '', attachment: '', after: '', before: '', hasAttachments: false };

export function isMailSearchEmpty(form: MailSearchForm): boolean {
  return Object.values({ ...form, hasAttachments: form.hasAttachments ? 'yes' : '' }).every((value) => value.trim() === '');
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The criteria of the search bar as the API takes them, or why they cannot be sent. A search
 * reaches across the whole mailbox of the backup point ("mail", with its folders).
 */
export function mailSearchCriteria(form: MailSearchForm): { criteria: Partial<MailSearchQuery> } | { error: string } {
  const criteria: Partial<MailSearchQuery> = {};
  for (const key of ['q', 'from', 'subject', 'attachment'] as const) {
    const value = form[key].trim();
    if (value !== '') criteria[key] = value;
  }
  const after = form.after.trim();
  const before = form.before.trim();
  if (after !== '' && !DAY.test(after)) return { error: 'The first day must be a date (2026-01-31)' };
  if (before !== '' && !DAY.test(before)) return { error: 'The last day must be a date (2026-01-31)' };
  if (after !== '' && before !== '' && before < after) return { error: 'The last day is before the first one' };
  // Whole days in the browser's time zone, the last one included.
  if (after !== '') criteria.after = dayStart(after);
  if (before !== '') criteria.before = dayEnd(before);
  if (form.hasAttachments) criteria.hasAttachments = true;
  return { criteria };
}

/** Query parameters as the API client sends them: booleans as words, only those set (the server reads "false" as true). */
export function queryParams(query: object): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(query)) {
    if (value === true) out[key] = 'true';
    else if (typeof value === 'number' || (typeof value === 'string' && value !== '')) out[key] = value;
  }
  return out;
}

/** Plain URLs (the session cookie authenticates them): the preview frame and downloads load them themselves. */
export function mailPreviewUrl(mountId: number, path: string): string {
  return `/api/mounts/${mountId}/mail/preview?${new URLSearchParams({ path }).toString()}`;
}

export function mailAttachmentUrl(mountId: number, path: string, index: number): string {
  return `/api/mounts/${mountId}/mail/attachment?${new URLSearchParams({ path, index: String(index) }).toString()}`;
}

export type ExportFormat = 'eml' | 'mbox' | 'ics' | 'vcf' | 'zip';

/** An export's download: one message as EML is the file itself; the rest the server builds (mbox, ics, vcf, zip). */
export function exportUrl(mountId: number, format: ExportFormat, paths: readonly string[]): string {
  if (format === 'eml') {
    const [path] = paths;
    if (paths.length !== 1 || path === undefined) throw new Error('EML takes exactly one message');
    return `/api/mounts/${mountId}/content?${new URLSearchParams({ path, download: '1' }).toString()}`;
  }
  const query = new URLSearchParams({ format });
  for (const path of paths) query.append('path', path);
  return `/api/mounts/${mountId}/export?${query.toString()}`;
}

/** The formats offered for what is chosen of a part: a single message is also its own EML. */
export function exportFormatsFor(part: ExchangePart, paths: readonly string[]): { format: ExportFormat; label: string }[] {
  if (paths.length === 0) return [];
  if (part === 'calendar') return [{ format: 'ics', label: 'Calendar file (.ics)' }, { format: 'zip', label: 'Zip of .ics files' }];
  if (part === 'contacts') return [{ format: 'vcf', label: 'Contacts file (.vcf)' }, { format: 'zip', label: 'Zip of .vcf files' }];
  const single = paths.length === 1 && paths[0]?.toLowerCase().endsWith('.eml') === true;
  return [
    ...(single ? [{ format: 'eml' as const, label: 'The message (.eml)' }] : []),
    { format: 'mbox', label: 'Mailbox file (.mbox)' },
    { format: 'zip', label: 'Zip (.eml and .mbox)' },
  ];
}

/** A mail folder's name in words: "All mail" for the mailbox's top. */
export function mailFolderLabel(path: string): string {
  return path === 'mail' ? 'All mail' : path.slice(path.lastIndexOf('/') + 1);
}

/** "3 messages", "1 event"… */
export function countWords(part: ExchangePart, count: number): string {
  const [one, many] = ITEM_NOUNS[part];
  return `${count} ${count === 1 ? one : many}`;
}

export const ITEM_NOUNS: Record<ExchangePart, [string, string]> = {
  mail: ['message', 'messages'],
  calendar: ['event', 'events'],
  contacts: ['contact', 'contacts'],
};
