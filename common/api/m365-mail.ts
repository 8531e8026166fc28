/**
 * Browsing the Exchange parts of a Microsoft 365 backup opened as a mount (POST
 * /api/m365/backups/:id/browse): the "mail", "calendar" and "contacts" folders of the mount.
 * Paths are mount paths ("mail/Inbox/Projects", "mail/Inbox/Hello ~1a2b3c4d.eml"), as in the
 * file explorer. Lists and searches are answered from the backup's metadata alone; a
 * message's content is read only for its preview, an attachment or an export.
 *
 *   GET /api/mounts/:mount/mail/messages?path=mail/Inbox&q=…   → MailSearchResult
 *   GET /api/mounts/:mount/mail/message?path=…                 → MailMessageDetail
 *   GET /api/mounts/:mount/mail/preview?path=…                 → text/html (sanitised, strict CSP, for a sandboxed iframe)
 *   GET /api/mounts/:mount/mail/attachment?path=…&index=N      → the attachment (download)
 *   GET /api/mounts/:mount/calendar/events?path=calendar&…     → EventListResult
 *   GET /api/mounts/:mount/contacts/list?path=contacts&…       → ContactListResult
 *   GET /api/mounts/:mount/export?format=mbox|ics|vcf|zip&path=…&path=… → a download
 *
 * Operators and admins only, like every mount route; downloads and exports are audited.
 */
import { z } from 'zod';

const isoDate = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be a date (ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)');

/** A yes/no of a query string: "true"/"false" or "1"/"0" (z.coerce.boolean would read "false" as true). */
const queryBoolean = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'])]).transform((v) => v === true || v === 'true' || v === '1');

export const MailAddressSchema = z.object({ name: z.string().nullable(), address: z.string() });
export type MailAddressView = z.infer<typeof MailAddressSchema>;

export const MAIL_SORT_KEYS = ['date', 'from', 'subject', 'size'] as const;

export const MailSearchQuerySchema = z.object({
  /** A mail folder, or "mail" for the whole mailbox. */
  path: z.string().min(1).max(4096),
  /** Search the folders below too (default: yes from "mail", no from a folder). */
  recursive: queryBoolean.optional(),
  /** Words found in the sender, recipients, subject or attachment names (case-insensitive). */
  q: z.string().max(500).optional(),
  from: z.string().max(320).optional().describe('sender name or address contains'),
  subject: z.string().max(500).optional().describe('subject contains'),
  attachment: z.string().max(255).optional().describe('an attachment name contains'),
  after: isoDate.optional().describe('received on or after'),
  before: isoDate.optional().describe('received before'),
  hasAttachments: queryBoolean.optional(),
  sort: z.enum(MAIL_SORT_KEYS).default('date'),
  order: z.enum(['asc', 'desc']).default('desc'),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export type MailSearchQuery = z.input<typeof MailSearchQuerySchema>;

export const MailMessageSummarySchema = z.object({
  /** Mount path of the message's .eml file. */
  path: z.string(),
  /** Mount path of its folder. */
  folder: z.string(),
  subject: z.string(),
  from: MailAddressSchema.nullable(),
  to: z.array(MailAddressSchema),
  receivedAt: z.string().nullable(),
  sentAt: z.string().nullable(),
  /** The MIME's size in bytes. */
  size: z.number(),
  isRead: z.boolean(),
  isDraft: z.boolean(),
  flag: z.enum(['notFlagged', 'flagged', 'complete']),
  importance: z.enum(['low', 'normal', 'high']),
  hasAttachments: z.boolean(),
  attachmentNames: z.array(z.string()),
  preview: z.string(),
});
export type MailMessageSummary = z.infer<typeof MailMessageSummarySchema>;

export const MailSearchResultSchema = z.object({
  messages: z.array(MailMessageSummarySchema),
  /** Every match (not only this page). */
  total: z.number().int(),
  /** How long the metadata took to answer, ms (the benchmark reads it). */
  tookMs: z.number(),
});
export type MailSearchResult = z.infer<typeof MailSearchResultSchema>;

export const MailAttachmentSchema = z.object({
  /** Its position among the MIME's attachments (the attachment route's index). */
  index: z.number().int(),
  name: z.string(),
  size: z.number(),
  contentType: z.string(),
  inline: z.boolean(),
});

export const MailMessageDetailSchema = MailMessageSummarySchema.extend({
  cc: z.array(MailAddressSchema),
  bcc: z.array(MailAddressSchema),
  replyTo: z.array(MailAddressSchema),
  internetMessageId: z.string().nullable(),
  attachments: z.array(MailAttachmentSchema),
  /** Whether the message has an HTML body (the preview route shows it) or only text. */
  hasHtml: z.boolean(),
  /** The text body (for a message without HTML, and for copying). */
  text: z.string(),
  /** Remote images (http/https) and other remote content the preview leaves out. */
  remoteContentBlocked: z.number().int(),
});
export type MailMessageDetail = z.infer<typeof MailMessageDetailSchema>;

export const MailMessageQuerySchema = z.object({ path: z.string().min(1).max(4096) });
export const MailAttachmentQuerySchema = z.object({ path: z.string().min(1).max(4096), index: z.coerce.number().int().min(0).max(10_000) });

export const EventListQuerySchema = z.object({
  /** A calendar, or "calendar" for all of them. */
  path: z.string().min(1).max(4096),
  q: z.string().max(500).optional().describe('subject, location or organizer contains'),
  after: isoDate.optional().describe('ends on or after'),
  before: isoDate.optional().describe('starts before'),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
export type EventListQuery = z.input<typeof EventListQuerySchema>;

export const EventSummarySchema = z.object({
  path: z.string(),
  calendar: z.string(),
  subject: z.string(),
  start: z.string().nullable(),
  end: z.string().nullable(),
  isAllDay: z.boolean(),
  eventType: z.enum(['singleInstance', 'seriesMaster', 'exception', 'occurrence']),
  /** "every day, 5 times" for a series master; null otherwise. */
  recurrence: z.string().nullable(),
  location: z.string().nullable(),
  organizer: MailAddressSchema.nullable(),
});
export type EventSummary = z.infer<typeof EventSummarySchema>;
export const EventListResultSchema = z.object({ events: z.array(EventSummarySchema), total: z.number().int() });
export type EventListResult = z.infer<typeof EventListResultSchema>;

export const ContactListQuerySchema = z.object({
  /** A contact folder, or "contacts" for all of them. */
  path: z.string().min(1).max(4096),
  q: z.string().max(500).optional().describe('name, e-mail, phone or company contains'),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
export type ContactListQuery = z.input<typeof ContactListQuerySchema>;

export const ContactSummarySchema = z.object({
  path: z.string(),
  folder: z.string(),
  displayName: z.string(),
  emails: z.array(z.string()),
  phones: z.array(z.string()),
  company: z.string().nullable(),
  hasPhoto: z.boolean(),
});
export type ContactSummary = z.infer<typeof ContactSummarySchema>;
export const ContactListResultSchema = z.object({ contacts: z.array(ContactSummarySchema), total: z.number().int() });
export type ContactListResult = z.infer<typeof ContactListResultSchema>;

/**
 * Exports, streamed from the repository: mbox (mboxrd) of mail folders and messages, one
 * .ics of calendars and events, one .vcf of contact folders and contacts, or a zip with
 * each message as .eml and each mail folder as .mbox. One message as EML is the file
 * itself (/api/mounts/:mount/content?path=…&download=1).
 */
export const EXPORT_FORMATS = ['mbox', 'ics', 'vcf', 'zip'] as const;
export const MountExportQuerySchema = z.object({
  format: z.enum(EXPORT_FORMATS),
  path: z.union([z.string().min(1).max(4096), z.array(z.string().min(1).max(4096)).min(1).max(10_000)]).transform((p) => (Array.isArray(p) ? p : [p])),
});
export type MountExportQuery = z.input<typeof MountExportQuerySchema>;
