import { z } from 'zod';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  CreatedM365TenantSchema,
  CreateM365TenantSchema,
  M365ConnectionSettingsSchema,
  M365BackupIdParamsSchema,
  M365BackupListQuerySchema,
  M365BackupPageSchema,
  M365BackupRunRequestSchema,
  M365BackupSchema,
  M365BrowseRequestSchema,
  M365ConnectionTestSchema,
  M365InventoryQuerySchema,
  M365RestoreRequestSchema,
  M365SiteSchema,
  M365TenantRefParamsSchema,
  M365TenantSchema,
  M365UserSchema,
  UpdateM365TenantSchema,
} from '../../../common/api/m365.js';
import { TaskSchema } from '../../../common/api/tasks.js';
import type { M365Service } from '../m365/m365.service.js';
import type { M365BackupsService } from '../m365/m365-backups.service.js';
import { MountSchema } from '../../../common/api/mounts.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
/** Test connection runs on the tenant's node: it may be offline (409), slow (504), or unable to reach Microsoft (502). */
const testErrors = { ...errors, 502: ApiErrorSchema, 504: ApiErrorSchema };
const tags = ['m365'];

/**
 * Microsoft 365 tenants and their inventory. Adding or changing how a tenant is reached signs
 * in on its node first (refused, unsaved, with the identity platform's reason in a sentence on
 * the field it is about); the client secret and private key are never answered back.
 */
export function registerM365Routes(app: ZodApp, deps: { m365: M365Service; backups: M365BackupsService }): void {
  const { m365 } = deps;
  registerM365BackupRoutes(app, deps.backups);
  app.get('/api/m365/tenants', { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'Microsoft 365 tenants', response: { 200: z.array(M365TenantSchema), ...errors } } }, async () =>
    m365.list(),
  );
  app.post(
    '/api/m365/tenants',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags,
        summary: 'Add a tenant: Test connection runs first on its node; a sign-in failure is refused (nothing saved), a missing permission is saved with its warning. Starts the first inventory sync',
        body: CreateM365TenantSchema,
        response: { 201: CreatedM365TenantSchema, ...testErrors },
      },
    },
    async (request, reply) => reply.code(201).send(await m365.add(request.body, principalOf(request))),
  );
  app.post(
    '/api/m365/connection-test',
    {
      config: { access: { role: 'admin' } },
      schema: { tags, summary: 'Test connection of tenant settings not saved yet (sign in, then one read per permission)', body: M365ConnectionSettingsSchema, response: { 200: M365ConnectionTestSchema, ...testErrors } },
    },
    async (request) => m365.testSettings(request.body),
  );
  app.get(
    '/api/m365/tenants/:tenant',
    { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'One tenant (by id or name)', params: M365TenantRefParamsSchema, response: { 200: M365TenantSchema, ...errors } } },
    async (request) => m365.get(request.params.tenant),
  );
  app.patch(
    '/api/m365/tenants/:tenant',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags,
        summary: 'Change a tenant; a change of how it is reached (ids, credential, hosts, CA, node) is tested first and refused, unsaved, when signing in fails',
        params: M365TenantRefParamsSchema,
        body: UpdateM365TenantSchema,
        response: { 200: M365TenantSchema, ...testErrors },
      },
    },
    async (request) => m365.update(request.params.tenant, request.body, principalOf(request)),
  );
  app.delete(
    '/api/m365/tenants/:tenant',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'Forget a tenant, its credential and its inventory', params: M365TenantRefParamsSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      await m365.remove(request.params.tenant, principalOf(request));
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/m365/tenants/:tenant/test',
    {
      config: { access: { role: 'operator' } },
      schema: { tags, summary: 'Test connection: sign in, then name each permission granted or missing', params: M365TenantRefParamsSchema, body: z.object({}).nullish(), response: { 200: M365ConnectionTestSchema, ...testErrors } },
    },
    async (request) => m365.test(request.params.tenant),
  );
  app.post(
    '/api/m365/tenants/:tenant/sync',
    { config: { access: { role: 'operator' } }, schema: { tags, summary: 'List the users and sites again (M365_SYNC task)', params: M365TenantRefParamsSchema, body: z.object({}).nullish(), response: { 202: TaskSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await m365.sync(request.params.tenant, principalOf(request).user.username)),
  );
  app.get(
    '/api/m365/users',
    { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'Users of the tenants (or of one), removed ones included', querystring: M365InventoryQuerySchema, response: { 200: z.array(M365UserSchema), ...errors } } },
    async (request) => m365.users(request.query.tenant),
  );
  app.get(
    '/api/m365/sites',
    { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'SharePoint sites with their document libraries', querystring: M365InventoryQuerySchema, response: { 200: z.array(M365SiteSchema), ...errors } } },
    async (request) => m365.sites(request.query.tenant),
  );
}

/**
 * Backups of users and sites: backup now (a task on the destination's node), the catalog's
 * list, browsing one in the file explorer (a mount), and restores (operators; audited).
 */
function registerM365BackupRoutes(app: ZodApp, backups: M365BackupsService): void {
  const taskRef = z.object({ taskId: z.number().int() });
  app.post(
    '/api/m365/backups',
    {
      config: { access: { role: 'operator' } },
      schema: { tags, summary: "Back up a user's OneDrive or a site's document libraries now (M365_BACKUP task on the destination's node)", body: M365BackupRunRequestSchema, response: { 202: taskRef, ...errors } },
    },
    async (request, reply) => reply.code(202).send({ taskId: (await backups.run(request.body, principalOf(request))).id }),
  );
  app.get(
    '/api/m365/backups',
    { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'Microsoft 365 backups, newest first (cursor paging)', querystring: M365BackupListQuerySchema, response: { 200: M365BackupPageSchema, ...errors } } },
    async (request) => backups.list(request.query),
  );
  app.get(
    '/api/m365/backups/:id',
    { config: { access: { role: 'viewer' } }, schema: { tags, summary: 'One Microsoft 365 backup with its drives', params: M365BackupIdParamsSchema, response: { 200: M365BackupSchema, ...errors } } },
    async (request) => backups.get(request.params.id),
  );
  app.post(
    '/api/m365/backups/:id/browse',
    {
      config: { access: { role: 'operator' } },
      schema: { tags, summary: 'Open the backup in the file explorer: a mount with one folder per drive (an open one is reused)', params: M365BackupIdParamsSchema, body: M365BrowseRequestSchema.nullish(), response: { 201: MountSchema, ...errors } },
    },
    async (request, reply) => reply.code(201).send(await backups.browse(request.params.id, request.body?.idleSeconds, principalOf(request))),
  );
  app.post(
    '/api/m365/backups/:id/restore',
    {
      config: { access: { role: 'operator' } },
      schema: {
        tags,
        summary: 'Restore files and folders of one drive to the original drive or another user or library of the tenant (M365_RESTORE task; audited)',
        params: M365BackupIdParamsSchema,
        body: M365RestoreRequestSchema,
        response: { 202: taskRef, ...errors },
      },
    },
    async (request, reply) => reply.code(202).send({ taskId: (await backups.restore(request.params.id, request.body, principalOf(request))).id }),
  );
}
