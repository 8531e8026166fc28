import { z } from 'zod';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  CreatedM365TenantSchema,
  CreateM365TenantSchema,
  M365ConnectionSettingsSchema,
  M365ConnectionTestSchema,
  M365InventoryQuerySchema,
  M365SiteSchema,
  M365TenantRefParamsSchema,
  M365TenantSchema,
  M365UserSchema,
  UpdateM365TenantSchema,
} from '../../../common/api/m365.js';
import { TaskSchema } from '../../../common/api/tasks.js';
import type { M365Service } from '../m365/m365.service.js';
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
export function registerM365Routes(app: ZodApp, deps: { m365: M365Service }): void {
  const { m365 } = deps;
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
