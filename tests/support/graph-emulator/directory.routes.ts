/**
 * Users, sites and the listing of their drives:
 *   GET /users ($select, $top up to 999, @odata.nextLink with $skiptoken), GET /users/{id | userPrincipalName}
 *   GET /users/{id}/drives, GET /sites?search=..., GET /sites/getAllSites, GET /sites/{id}, GET /sites/{id}/drives
 * A user without a OneDrive answers 404 ResourceNotFound "User's mysite not found." for their drive(s).
 */
import type { Tenant } from './directory.model.js';
import { GraphError } from './errors.js';
import { ROLES, type GraphContext, type GraphRoute, json } from './graph-routes.js';
import { driveJson, page, pageSize, select, siteJson, userJson } from './resources.js';

const userNotFound = (id: string): GraphError =>
  new GraphError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
const mysiteNotFound = (): GraphError => new GraphError(404, 'ResourceNotFound', "User's mysite not found.");
const siteNotFound = (): GraphError => new GraphError(404, 'itemNotFound', 'Requested site could not be found');

function collection(ctx: GraphContext, context: string, items: unknown[], nextLink?: string): ReturnType<typeof json> {
  return json(200, {
    '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#${context}`,
    ...(nextLink !== undefined ? { '@odata.nextLink': nextLink } : {}),
    value: items,
  });
}

function findUserOrThrow(tenant: Tenant, id: string): NonNullable<ReturnType<Tenant['findUser']>> {
  const u = tenant.findUser(decodeURIComponent(id));
  if (!u) throw userNotFound(decodeURIComponent(id));
  return u;
}

export const directoryRoutes: GraphRoute[] = [
  {
    methods: ['GET'],
    pattern: /^\/me(\/.*)?$/,
    roles: () => [],
    denial: 'directory',
    handle: async () => {
      throw new GraphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
    },
  },
  {
    methods: ['GET'],
    pattern: /^\/users\/?$/,
    roles: () => ROLES.readUsers,
    denial: 'directory',
    handle: async (_m, ctx) => {
      const { items, nextLink } = page(ctx.tenant.users, ctx.query, ctx.url, pageSize(ctx.query, 100, 999));
      return collection(
        ctx,
        'users',
        items.map((u) => select(userJson(u), ctx.query)),
        nextLink,
      );
    },
  },
  {
    methods: ['GET'],
    pattern: /^\/users\/([^/]+)\/?$/,
    roles: () => ROLES.readUsers,
    denial: 'directory',
    owner: (m, tenant) => {
      const u = tenant.findUser(decodeURIComponent(m[1]!));
      return u ? { kind: 'user', id: u.id, name: u.userPrincipalName } : undefined;
    },
    handle: async (m, ctx) => json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#users/$entity`, ...select(userJson(findUserOrThrow(ctx.tenant, m[1]!)), ctx.query) }),
  },
  {
    methods: ['GET'],
    pattern: /^\/users\/([^/]+)\/drives\/?$/,
    roles: () => ROLES.readFiles,
    denial: 'sharepoint',
    owner: (m, tenant) => {
      const u = tenant.findUser(decodeURIComponent(m[1]!));
      return u ? { kind: 'user', id: u.id, name: u.userPrincipalName } : undefined;
    },
    handle: async (m, ctx) => {
      const u = findUserOrThrow(ctx.tenant, m[1]!);
      if (!u.drive) throw mysiteNotFound();
      return collection(ctx, 'drives', [select(driveJson(u.drive, ctx.tenant), ctx.query)]);
    },
  },
  {
    methods: ['GET'],
    pattern: /^\/sites\/?$/,
    roles: () => ROLES.readSites,
    denial: 'sharepoint',
    handle: async (_m, ctx) => {
      const search = ctx.query.get('search');
      if (search === null) throw new GraphError(400, 'invalidRequest', 'Either search or filter must be specified.');
      const term = search.trim().toLowerCase();
      // Search does not return OneDrive (personal) sites.
      const all = [ctx.tenant.rootSite, ...ctx.tenant.sites].filter(
        (s) => term === '*' || term === '' || s.displayName.toLowerCase().includes(term) || s.name.toLowerCase().includes(term),
      );
      const { items, nextLink } = page(all, ctx.query, ctx.url, pageSize(ctx.query, 200, 500));
      return collection(
        ctx,
        'sites',
        items.map((s) => select(siteJson(s, ctx.tenant), ctx.query)),
        nextLink,
      );
    },
  },
  {
    methods: ['GET'],
    pattern: /^\/sites\/(?:oneDrive\.)?getAllSites(?:\(\))?\/?$/,
    roles: () => ['Sites.Read.All', 'Sites.ReadWrite.All', 'Sites.FullControl.All'],
    denial: 'sharepoint',
    handle: async (_m, ctx) => {
      // Every site collection, OneDrive (personal) sites included, as getAllSites lists them.
      const all = [ctx.tenant.rootSite, ...ctx.tenant.sites, ...ctx.tenant.users.flatMap((u) => (u.personalSite ? [u.personalSite] : []))];
      const url = ctx.url.replace(/\/sites\/(?:oneDrive\.)?getAllSites(?:\(\))?\/?$/, '/sites/oneDrive.getAllSites');
      const { items, nextLink } = page(all, ctx.query, url, pageSize(ctx.query, 200, 500));
      return collection(
        ctx,
        'sites',
        items.map((s) => select(siteJson(s, ctx.tenant), ctx.query)),
        nextLink,
      );
    },
  },
  {
    methods: ['GET'],
    pattern: /^\/sites\/([^/]+)\/?$/,
    roles: () => ROLES.readSites,
    denial: 'sharepoint',
    owner: (m, tenant) => {
      const s = tenant.findSite(decodeURIComponent(m[1]!));
      return s ? { kind: 'site', id: s.id, name: s.name || 'root' } : undefined;
    },
    handle: async (m, ctx) => {
      const s = ctx.tenant.findSite(decodeURIComponent(m[1]!));
      if (!s) throw siteNotFound();
      return json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#sites/$entity`, ...select(siteJson(s, ctx.tenant), ctx.query) });
    },
  },
  {
    methods: ['GET'],
    pattern: /^\/sites\/([^/]+)\/drives\/?$/,
    roles: () => ROLES.readFiles,
    denial: 'sharepoint',
    owner: (m, tenant) => {
      const s = tenant.findSite(decodeURIComponent(m[1]!));
      return s ? { kind: 'site', id: s.id, name: s.name || 'root' } : undefined;
    },
    handle: async (m, ctx) => {
      const s = ctx.tenant.findSite(decodeURIComponent(m[1]!));
      if (!s) throw siteNotFound();
      return collection(
        ctx,
        'drives',
        s.drives.map((d) => select(driveJson(d, ctx.tenant), ctx.query)),
      );
    },
  },
];

export { mysiteNotFound, userNotFound };
