import { z } from 'zod';
import { M365ConnectionTestSchema } from './api/m365.js';

/**
 * What a node gets to reach a Microsoft 365 tenant, and what the M365 inventory task and the
 * connection test answer. The credential (client secret or private key) is added by the server
 * when it sends a task or a call, and is never part of a task's stored params: the server
 * keeps only its kind there (tasks/task-contracts.ts redactSecrets).
 */
export const M365CredentialSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('secret'), secret: z.string().min(1) }),
  /** A certificate registered on the app; the private key signs the client assertion. */
  z.object({ kind: z.literal('certificate'), certificatePem: z.string().min(1), privateKeyPem: z.string().min(1) }),
]);

/** The shape of node-service/cloud/graph/tenant-settings.ts: every host from the tenant's settings, none assumed. */
export const M365TenantSettingsSchema = z.object({
  /** Directory (tenant) id or its primary domain. */
  tenantId: z.string().min(1),
  clientId: z.string().min(1),
  credential: M365CredentialSchema,
  authorityHost: z.string().min(1),
  graphUrl: z.string().min(1),
  /** A CA to trust besides the system's (a TLS-inspecting proxy's), PEM. */
  caPem: z.string().nullable(),
});
export type M365TenantSettings = z.infer<typeof M365TenantSettingsSchema>;

/** M365_SYNC as stored: the catalog id of the tenant. The node also gets `tenant` (the settings) at dispatch. */
export const M365SyncParamsSchema = z.object({ m365TenantId: z.number().int() });
export const M365SyncNodeParamsSchema = M365SyncParamsSchema.extend({ tenant: M365TenantSettingsSchema });

/** A user as Graph lists it, with their OneDrive (null: none) and whether they have a mailbox. */
export const M365DirectoryUserSchema = z.object({
  id: z.string(),
  userPrincipalName: z.string(),
  displayName: z.string(),
  mail: z.string().nullable(),
  accountEnabled: z.boolean().nullable(),
  driveId: z.string().nullable(),
  /** An Exchange Online mailbox; null: unknown (the app may not read mail; absent from nodes older than Exchange backup). */
  hasMailbox: z.boolean().nullable().default(null),
});

export const M365DirectoryLibrarySchema = z.object({ id: z.string(), name: z.string(), webUrl: z.string().nullable() });

/** A SharePoint site (personal OneDrive sites left out) with its document libraries. */
export const M365DirectorySiteSchema = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string(),
  webUrl: z.string().nullable(),
  libraries: z.array(M365DirectoryLibrarySchema),
});

/**
 * What the tenant has now. A part is null when it could not be listed (a permission missing:
 * the task's warnings say which): the server then leaves that part of its inventory as it was,
 * rather than marking everything in it removed.
 */
export const M365SyncResultSchema = z.object({
  users: z.array(M365DirectoryUserSchema).nullable(),
  sites: z.array(M365DirectorySiteSchema).nullable(),
});
export type M365SyncResult = z.infer<typeof M365SyncResultSchema>;

/** The settings a sign-in failure is about, so a form shows it under that field. */
export const M365_SETTING_FIELDS = ['tenantId', 'clientId', 'clientSecret', 'certificatePem', 'privateKeyPem', 'authorityHost', 'graphUrl', 'caPem'] as const;
export const M365SettingFieldSchema = z.enum(M365_SETTING_FIELDS);
export type M365SettingField = z.infer<typeof M365SettingFieldSchema>;

/**
 * The node's answer to `m365.test`: the connection test, or why signing in failed (`failure`:
 * its code, M365_AUTH_FAILED or M365_UNREACHABLE, the setting it is about, and the identity
 * platform's own words); `message` is then the sentence that says what to fix.
 */
export const M365TestAnswerSchema = M365ConnectionTestSchema.extend({
  signedIn: z.boolean(),
  failure: z.object({ code: z.string().max(64), field: M365SettingFieldSchema.nullable(), detail: z.string().max(4000).nullable() }).nullable(),
});
export type M365TestAnswer = z.infer<typeof M365TestAnswerSchema>;

/**
 * Microsoft 365 backups. One backup covers one subject: a user (their OneDrive; the mailbox
 * comes with part 2) or a site (each of its document libraries). Each drive is a protected
 * object of its own in the repository ("m365:<directory id>:drive:<drive id>") with one backup
 * point per backup; the backup groups its points under a run id, written into every point's
 * manifest (`source`), so re-import regroups them from the destination alone.
 */
export const M365SubjectKindSchema = z.enum(['user', 'site']);
export type M365SubjectKind = z.infer<typeof M365SubjectKindSchema>;

/**
 * What a part of a backup holds: a drive (a OneDrive, a library), or a user's mailbox
 * ("mail"), calendars ("calendar") or contacts ("contacts"). Each part is one protected
 * object with one backup point per backup.
 */
export const M365PartKindSchema = z.enum(['drive', 'mail', 'calendar', 'contacts']);
export type M365PartKind = z.infer<typeof M365PartKindSchema>;
export const M365_EXCHANGE_PARTS = ['mail', 'calendar', 'contacts'] as const satisfies readonly M365PartKind[];

/** A part of the subject as the server sends it: its folder in the backup's tree and its repository object. */
export const M365DrivePartSchema = z.object({
  /** Absent in tasks written before Exchange parts existed: a drive. */
  kind: M365PartKindSchema.default('drive'),
  /** Its folder when the backup is browsed: "drive" for a OneDrive, the library's name for a site; "mail", "calendar", "contacts". */
  name: z.string().min(1).max(255),
  /** The drive's Graph id; for mail, calendar and contacts the user's Graph id (whose mailbox). */
  driveId: z.string().min(1),
  /** "m365:<directory id>:drive:<drive id>" */
  objectKey: z.string().min(1),
  /** For messages: "the OneDrive of alice@contoso.com", "library Documents of site Sales". */
  label: z.string(),
});
export type M365DrivePart = z.infer<typeof M365DrivePartSchema>;

/** The repository object of a drive: stable across renames of users, sites and libraries. */
export function m365DriveObjectKey(directoryId: string, driveId: string): string {
  return `m365:${directoryId.toLowerCase()}:drive:${driveId}`;
}

/** The repository object of a user's mailbox, calendars or contacts: stable across renames. */
export function m365ExchangeObjectKey(directoryId: string, kind: Exclude<M365PartKind, 'drive'>, userGraphId: string): string {
  return `m365:${directoryId.toLowerCase()}:${kind}:${userGraphId}`;
}

/** What the node writes into each point's manifest, and re-import reads back. */
export const M365PointSourceSchema = z.object({
  runId: z.string().min(1),
  /** The tenant's directory id or domain, as configured. */
  directory: z.string(),
  subject: z.object({ kind: M365SubjectKindSchema, graphId: z.string(), name: z.string() }),
  part: z.string(),
  /** Absent in points written before Exchange parts existed: a drive. */
  partKind: M365PartKindSchema.default('drive'),
  /** The drive's Graph id; for mail, calendar and contacts the user's Graph id. */
  driveId: z.string(),
});
export type M365PointSource = z.infer<typeof M365PointSourceSchema>;

/** M365_BACKUP as stored: catalog ids. Runs on the destination's node. */
export const M365BackupParamsSchema = z.object({
  m365TenantId: z.number().int(),
  destinationId: z.number().int(),
  subject: z.object({ kind: M365SubjectKindSchema, id: z.number().int() }),
  /** Groups this backup's points; also the catalog's key for it (unique per destination). */
  runId: z.string().min(1).max(64),
  /** Enumerate everything (tombstoning what is gone) even where a delta token is kept. */
  full: z.boolean(),
});
/** At dispatch the server adds the tenant's settings, the subject's Graph id and name, its drives, and the repository. */
export const M365BackupNodeParamsSchema = M365BackupParamsSchema.extend({
  tenant: M365TenantSettingsSchema,
  subjectGraphId: z.string().min(1),
  subjectName: z.string(),
  parts: z.array(M365DrivePartSchema).min(1),
});

export const M365PointResultSchema = z.object({
  part: z.string(),
  partKind: M365PartKindSchema.default('drive'),
  objectKey: z.string(),
  driveId: z.string(),
  pointId: z.string(),
  createdAt: z.string(),
  kind: z.enum(['full', 'incremental']),
  /** The delta token had expired: the point compared a full enumeration with the last one. */
  resynced: z.boolean(),
  items: z.number().int(),
  files: z.number().int(),
  folders: z.number().int(),
  bytes: z.number(),
  added: z.number().int(),
  changed: z.number().int(),
  removed: z.number().int(),
  downloadedFiles: z.number().int(),
  downloadedBytes: z.number(),
  storedBytes: z.number(),
});
export type M365PointResult = z.infer<typeof M365PointResultSchema>;

/** One point per drive that was backed up; a drive that failed as a whole is a warning of the task, and has no point. */
export const M365BackupResultSchema = z.object({
  runId: z.string(),
  points: z.array(M365PointResultSchema),
});
export type M365BackupResult = z.infer<typeof M365BackupResultSchema>;

export const M365ConflictSchema = z.enum(['skip', 'copy', 'replace']);
export type M365Conflict = z.infer<typeof M365ConflictSchema>;

/** M365_RESTORE as stored. Runs on the destination's node; the paths are inside one drive of the backup. */
export const M365RestoreParamsSchema = z.object({
  m365TenantId: z.number().int(),
  destinationId: z.number().int(),
  /** The catalog's m365_backups.id. */
  m365BackupId: z.number().int(),
  /** The drive of the backup the paths are in. */
  objectKey: z.string().min(1),
  pointId: z.string().min(1),
  /** What the part holds: files of a drive (absent in tasks written before Exchange parts existed), mail, events or contacts. */
  partKind: M365PartKindSchema.default('drive'),
  /** Paths inside that drive, "/" the whole drive ("/Documents/Q3", "/a.txt"). */
  paths: z.array(z.string().min(1).startsWith('/')).min(1),
  /** Where to: a drive of the same tenant (the original or another user's or library); for mail, calendars and contacts a user (driveId: their Graph id). */
  target: z.object({ kind: M365SubjectKindSchema, id: z.number().int(), driveId: z.string().min(1), label: z.string() }),
  /** A folder at the target's root to restore into ("Restore-2026-12-07 0315" by default); null: the original places. */
  folder: z.string().min(1).max(255).nullable(),
  conflict: M365ConflictSchema,
});
export const M365RestoreNodeParamsSchema = M365RestoreParamsSchema.extend({
  tenant: M365TenantSettingsSchema,
  /** Whose request limits the uploads count against (the target user's or site's Graph id). */
  targetOwner: z.string().min(1),
});

export const M365RestoreResultSchema = z.object({
  restoredFiles: z.number().int(),
  restoredFolders: z.number().int(),
  restoredBytes: z.number(),
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  failed: z.array(z.object({ path: z.string(), reason: z.string() })),
  /** Where the items went on the target drive. */
  targetRoot: z.string(),
});
export type M365RestoreResult = z.infer<typeof M365RestoreResultSchema>;

/** "Restore-2026-12-07 0315" (UTC): a new folder per restore, sortable, valid on every drive. */
export function m365RestoreFolderName(at: Date): string {
  const iso = at.toISOString();
  return `Restore-${iso.slice(0, 10)} ${iso.slice(11, 13)}${iso.slice(14, 16)}`;
}
