import { z } from 'zod';
import { TimeCursorSchema } from './paging.js';
import { ID_LIKE_NAME_MESSAGE, notIdLike, unicodeNamePattern } from '../names.js';

/**
 * Microsoft 365 tenants and their inventory (users with their OneDrive, SharePoint sites with
 * their document libraries). Every host is a setting: national clouds and TLS-inspecting
 * proxies differ, so nothing assumes Microsoft's public cloud beyond these defaults.
 */
export const M365_DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const M365_DEFAULT_GRAPH_URL = 'https://graph.microsoft.com/v1.0';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export const M365TenantNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(unicodeNamePattern('._-'), 'tenant names may contain letters, digits, ".", "_" and "-"')
  .refine(notIdLike, ID_LIKE_NAME_MESSAGE);

export const M365DirectoryIdSchema = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .refine((v) => GUID.test(v) || DOMAIN.test(v), "the Directory (tenant) ID: a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47, or the tenant's domain such as contoso.onmicrosoft.com");

export const M365ClientIdSchema = z.string().trim().min(1).max(64).regex(GUID, 'the Application (client) ID: a GUID such as 1b730954-1685-4b74-9bfd-dac224a7b894');

const httpsUrl = (example: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(255)
    .regex(/^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/i, `an https:// address such as ${example}`);

export const M365AuthorityHostSchema = httpsUrl(M365_DEFAULT_AUTHORITY_HOST);
export const M365GraphUrlSchema = httpsUrl(M365_DEFAULT_GRAPH_URL);

const pem = (kind: RegExp, words: string) =>
  z
    .string()
    .trim()
    .max(64 * 1024)
    .refine((v) => v === '' || kind.test(v), words);
const CertificatePemSchema = pem(/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/, 'a certificate in PEM form (-----BEGIN CERTIFICATE----- …)');
const PrivateKeyPemSchema = pem(/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+-----END (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/, 'a private key in PEM form (-----BEGIN PRIVATE KEY----- …)');

export const M365CredentialKindSchema = z.enum(['secret', 'certificate']);

/**
 * The settings of a tenant as a form sends them. The client secret is its Value (not its
 * Secret ID); a certificate comes with its private key. Neither is ever answered back.
 */
const TenantFields = {
  tenantId: M365DirectoryIdSchema,
  clientId: M365ClientIdSchema,
  credentialKind: M365CredentialKindSchema,
  clientSecret: z.string().max(1024).optional(),
  certificatePem: CertificatePemSchema.optional(),
  privateKeyPem: PrivateKeyPemSchema.optional(),
  authorityHost: M365AuthorityHostSchema,
  graphUrl: M365GraphUrlSchema,
  /** A CA to trust besides the system's, e.g. a TLS-inspecting proxy's (PEM); empty or null for none. */
  caPem: CertificatePemSchema.nullable().optional(),
};

type CredentialInput = { credentialKind?: 'secret' | 'certificate' | undefined; clientSecret?: string | undefined; certificatePem?: string | undefined; privateKeyPem?: string | undefined };

/** The credential its kind needs; `required` false for a change that keeps the stored one. */
function checkCredential(v: CredentialInput, ctx: z.RefinementCtx, required: boolean): void {
  const need = (field: keyof CredentialInput, words: string): void => {
    if (!v[field]?.trim()) ctx.addIssue({ code: 'custom', path: [field], message: words });
  };
  if (v.credentialKind === 'secret' && required) need('clientSecret', "enter the client secret's Value (Certificates & secrets in the app registration)");
  if (v.credentialKind === 'certificate') {
    if (required || v.certificatePem !== undefined || v.privateKeyPem !== undefined) {
      need('certificatePem', 'paste the certificate registered on the app (PEM)');
      need('privateKeyPem', "paste the certificate's private key (PEM)");
    }
  }
}

/** What reaches a tenant: its node and settings, the defaults filled in. */
const ConnectionFields = {
  node: z.string().min(1).max(128).describe('the node that reaches Microsoft 365 for this tenant and runs its tasks (id or name)'),
  ...TenantFields,
  credentialKind: TenantFields.credentialKind.default('secret'),
  authorityHost: TenantFields.authorityHost.default(M365_DEFAULT_AUTHORITY_HOST),
  graphUrl: TenantFields.graphUrl.default(M365_DEFAULT_GRAPH_URL),
};

/** Test connection of settings not saved yet (the "Add tenant" form's button). */
export const M365ConnectionSettingsSchema = z.object(ConnectionFields).superRefine((v, ctx) => checkCredential(v, ctx, true));
export type M365ConnectionSettings = z.input<typeof M365ConnectionSettingsSchema>;

export const CreateM365TenantSchema = z.object({ name: M365TenantNameSchema, ...ConnectionFields }).superRefine((v, ctx) => checkCredential(v, ctx, true));
export type CreateM365Tenant = z.input<typeof CreateM365TenantSchema>;

/** A change: only what is given changes; a new credential kind needs its credential; caPem null removes the CA. */
export const UpdateM365TenantSchema = z
  .object({
    name: M365TenantNameSchema.optional(),
    node: z.string().min(1).max(128).optional(),
    tenantId: TenantFields.tenantId.optional(),
    clientId: TenantFields.clientId.optional(),
    credentialKind: TenantFields.credentialKind.optional(),
    clientSecret: TenantFields.clientSecret,
    certificatePem: TenantFields.certificatePem,
    privateKeyPem: TenantFields.privateKeyPem,
    authorityHost: TenantFields.authorityHost.optional(),
    graphUrl: TenantFields.graphUrl.optional(),
    caPem: TenantFields.caPem,
  })
  .superRefine((v, ctx) => checkCredential(v, ctx, false));
export type UpdateM365Tenant = z.input<typeof UpdateM365TenantSchema>;

export const M365PermissionCheckSchema = z.object({
  permission: z.string().describe('an application permission, e.g. Sites.Read.All'),
  ok: z.boolean(),
  message: z.string(),
});

/** Test connection: signed in, then one read per permission the backup needs, each named. */
export const M365ConnectionTestSchema = z.object({
  ok: z.boolean().describe('every permission the backup needs was granted'),
  roles: z.array(z.string()).describe("the application permissions the app's token carries"),
  checks: z.array(M365PermissionCheckSchema),
  message: z.string().describe('one sentence: what works, or which permission is missing and how to add it'),
});
export type M365ConnectionTest = z.infer<typeof M365ConnectionTestSchema>;

export const M365SyncStateSchema = z.enum(['never', 'ok', 'warning', 'failed']);

export const M365TenantSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  tenantId: z.string().describe('Directory (tenant) ID or domain'),
  clientId: z.string(),
  credentialKind: M365CredentialKindSchema,
  /** The certificate's SHA-1 thumbprint, as the Azure portal shows it (certificate credentials only). */
  certificateThumbprint: z.string().nullable(),
  certificateExpiresAt: z.string().nullable(),
  authorityHost: z.string(),
  graphUrl: z.string(),
  caPem: z.string().nullable(),
  nodeId: z.number().int(),
  node: z.string(),
  syncState: M365SyncStateSchema.describe('how the last inventory sync went'),
  syncMessage: z.string().nullable(),
  lastSyncAt: z.string().nullable(),
  /** The last connection test: signed in, and which permissions are missing. */
  test: z.object({ ok: z.boolean(), message: z.string(), missing: z.array(z.string()), testedAt: z.string() }).nullable(),
  users: z.number().int().describe('users present in the tenant'),
  drives: z.number().int().describe('of them, users with a OneDrive'),
  sites: z.number().int(),
  libraries: z.number().int(),
  createdAt: z.string(),
});
export type M365Tenant = z.infer<typeof M365TenantSchema>;

export const CreatedM365TenantSchema = z.object({
  tenant: M365TenantSchema,
  test: M365ConnectionTestSchema,
  /** The first inventory sync, started at once. */
  syncTaskId: z.number().int().nullable(),
});
export type CreatedM365Tenant = z.infer<typeof CreatedM365TenantSchema>;

export const M365TenantRefParamsSchema = z.object({ tenant: z.string().min(1).max(128).describe('id or name') });
export const M365InventoryQuerySchema = z.object({ tenant: z.string().min(1).max(128).optional().describe('tenant id or name') });

/**
 * A user of a tenant: a protected object with a stable catalog id (Graph's id can be reused by
 * nothing else, but the catalog's id is what policies and backups refer to).
 */
export const M365UserSchema = z.object({
  id: z.number().int(),
  tenant: z.string(),
  graphId: z.string(),
  upn: z.string(),
  displayName: z.string(),
  mail: z.string().nullable(),
  enabled: z.boolean().nullable(),
  driveId: z.string().nullable(),
  hasDrive: z.boolean(),
  /** An Exchange Online mailbox (its mail, calendars and contacts are backed up); null: unknown (the last sync could not find out: its warning says why). */
  hasMailbox: z.boolean().nullable(),
  present: z.boolean().describe('false: gone from the tenant at the last sync (kept for its backups)'),
  lastSeenAt: z.string(),
  removedAt: z.string().nullable(),
  policy: z.string().nullable(),
  lastBackupAt: z.string().nullable(),
});
export type M365User = z.infer<typeof M365UserSchema>;

/** A document library: a protected object of its own (catalog id), like a user's OneDrive. */
export const M365LibrarySchema = z.object({
  id: z.number().int(),
  driveId: z.string(),
  name: z.string(),
  url: z.string().nullable(),
  present: z.boolean(),
  policy: z.string().nullable(),
  lastBackupAt: z.string().nullable(),
});
export type M365Library = z.infer<typeof M365LibrarySchema>;

export const M365SiteSchema = z.object({
  id: z.number().int(),
  tenant: z.string(),
  graphId: z.string(),
  name: z.string(),
  displayName: z.string(),
  url: z.string().nullable(),
  present: z.boolean(),
  lastSeenAt: z.string(),
  removedAt: z.string().nullable(),
  libraries: z.array(M365LibrarySchema),
  policy: z.string().nullable(),
  lastBackupAt: z.string().nullable(),
});
export type M365Site = z.infer<typeof M365SiteSchema>;

/** What a part of a backup holds (common/m365-tasks.ts M365PartKindSchema: the same four). */
export const M365BackupPartKindSchema = z.enum(['drive', 'mail', 'calendar', 'contacts']);
export type M365BackupPartKind = z.infer<typeof M365BackupPartKindSchema>;

/**
 * A part of a backup: one point per part, browsed as one folder per part. A user's backup has
 * "drive" (their OneDrive), and "mail", "calendar" and "contacts" when they have a mailbox; a
 * site's one part per document library.
 */
export const M365BackupPartSchema = z.object({
  /** Its folder in the backup: "drive" (a OneDrive), the library's name, "mail", "calendar" or "contacts". */
  name: z.string(),
  /** Absent in backups recorded before Exchange parts existed: a drive. */
  partKind: M365BackupPartKindSchema.default('drive'),
  driveId: z.string(),
  objectKey: z.string(),
  pointId: z.string(),
  kind: z.enum(['full', 'incremental']),
  items: z.number().int(),
  files: z.number().int(),
  folders: z.number().int(),
  bytes: z.number(),
  storedBytes: z.number(),
});
export type M365BackupPart = z.infer<typeof M365BackupPartSchema>;

export const M365BackupStatusSchema = z.enum(['available', 'removed']);

export const M365BackupSchema = z.object({
  id: z.number().int(),
  tenant: z.string().nullable().describe('null: the tenant was removed from the catalog'),
  tenantId: z.number().int().nullable(),
  subject: z.object({
    kind: z.enum(['user', 'site']),
    /** m365_users.id or m365_sites.id; null when the catalog no longer knows it. */
    id: z.number().int().nullable(),
    graphId: z.string(),
    /** UPN of a user, name of a site. */
    name: z.string(),
  }),
  destinationId: z.number().int(),
  destination: z.string(),
  createdAt: z.string(),
  /** full: every drive enumerated in full; incremental: at least one drive read by delta. */
  kind: z.enum(['full', 'incremental']),
  items: z.number().int(),
  files: z.number().int(),
  bytes: z.number().describe("bytes of the files the backup's points list"),
  storedBytes: z.number().describe('bytes this backup added to the destination'),
  warnings: z.array(z.string()),
  parts: z.array(M365BackupPartSchema),
  status: M365BackupStatusSchema,
  taskId: z.number().int().nullable(),
});
export type M365Backup = z.infer<typeof M365BackupSchema>;

export const M365BackupListQuerySchema = z.object({
  tenant: z.string().min(1).max(128).optional().describe('tenant id or name'),
  /** A user (UPN or catalog id) or a site (name or catalog id). */
  user: z.string().min(1).max(320).optional(),
  site: z.string().min(1).max(255).optional(),
  destination: z.string().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: TimeCursorSchema.optional(),
});
export type M365BackupListQuery = z.input<typeof M365BackupListQuerySchema>;
export const M365BackupPageSchema = z.object({ backups: z.array(M365BackupSchema), nextCursor: z.string().nullable() });
export type M365BackupPage = z.infer<typeof M365BackupPageSchema>;

/** Backup now: one user or one site (exactly one of them), to a destination. */
export const M365BackupRunRequestSchema = z
  .object({
    tenant: z.string().min(1).max(128).optional().describe('tenant id or name (needed only when the user or site is ambiguous)'),
    user: z.string().trim().min(1).max(320).optional().describe("the user's UPN or catalog id"),
    site: z.string().trim().min(1).max(255).optional().describe("the site's name or catalog id"),
    destination: z.string().trim().min(1).max(128).describe('destination id or name'),
    full: z.boolean().default(false).describe('enumerate everything even where a delta token is kept'),
  })
  .superRefine((v, ctx) => {
    if ((v.user === undefined) === (v.site === undefined)) ctx.addIssue({ code: 'custom', path: ['user'], message: 'name one user or one site to back up' });
  });
export type M365BackupRunRequest = z.input<typeof M365BackupRunRequestSchema>;

/** The task of a backup now (its progress, log and outcome). */
export const M365BackupRunResponseSchema = z.object({ taskId: z.number().int() });

export const M365BackupIdParamsSchema = z.object({ id: z.coerce.number().int().positive() });

/**
 * Restore paths of one drive of a backup. Paths are as the backup is browsed: the drive's
 * folder first ("drive/Documents/a.docx", "Documents/Q3" for a site's library "Documents"),
 * the drive's folder alone for all of it. To another user or site of the same tenant with `to`
 * (a UPN, or a site's name with `toLibrary`), else to the original drive.
 */
export const M365RestoreRequestSchema = z.object({
  paths: z.array(z.string().min(1).max(4096)).min(1).max(10_000),
  to: z.string().trim().min(1).max(320).optional().describe('a user (UPN or id) or a site (name or id) of the same tenant'),
  toLibrary: z.string().trim().min(1).max(255).optional().describe("the target site's library (default: the same name)"),
  /** Default: a new "Restore-<date>" folder at the target drive's root; null: the original places. */
  folder: z.string().trim().min(1).max(255).nullable().optional(),
  conflict: z.enum(['skip', 'copy', 'replace']).default('copy'),
});
export type M365RestoreRequest = z.input<typeof M365RestoreRequestSchema>;
export const M365RestoreResponseSchema = z.object({ taskId: z.number().int() });

/** Browse: the backup opened as a mount (one folder per drive) in the file explorer. */
export const M365BrowseRequestSchema = z.object({ idleSeconds: z.number().int().min(60).max(24 * 3600).optional() });
