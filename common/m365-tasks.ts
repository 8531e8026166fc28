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

/** A user as Graph lists it, with their OneDrive (null: none). */
export const M365DirectoryUserSchema = z.object({
  id: z.string(),
  userPrincipalName: z.string(),
  displayName: z.string(),
  mail: z.string().nullable(),
  accountEnabled: z.boolean().nullable(),
  driveId: z.string().nullable(),
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
