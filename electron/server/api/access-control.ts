import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../../../common/api/users.js';
import { AuthService, type Principal } from '../auth/auth.service.js';
import { forbidden, unauthorized } from '../errors.js';
import type { ZodApp } from './zod-app.js';

/**
 * Every /api route declares who may call it, in its route config:
 * `public`, or the lowest role allowed. A route without a declaration is a
 * startup error, so no route can be added without an access decision.
 */
export type Access = 'public' | 'node' | { role: Role };

/** Resolves a bearer token to an enrolled node, if it is a node credential. */
export type NodeAuthenticator = (token: string) => Promise<NodePrincipal | undefined>;
export interface NodePrincipal {
  nodeId: number;
  name: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal?: Principal;
    nodePrincipal?: NodePrincipal;
    sessionToken?: string;
  }
}

export const SESSION_COOKIE = 'vplus_session';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAtLeast(role: Role, min: Role): boolean {
  return RANK[role] >= RANK[min];
}

export function tokenFrom(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    return m?.[1];
  }
  return request.cookies[SESSION_COOKIE];
}

export function registerAccessControl(app: ZodApp, auth: AuthService, authenticateNode: NodeAuthenticator): void {
  app.addHook('onRoute', (route) => {
    const isApi = route.url.startsWith('/api/') && !route.url.startsWith('/api/docs');
    if (isApi && !route.config?.access) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no access rule`);
    }
  });

  // onRequest runs before body parsing and validation: an anonymous caller gets 401, not a 400 about its body.
  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    const access = request.routeOptions.config.access;
    if (!access || access === 'public') return;
    const token = tokenFrom(request);
    if (access === 'node') {
      const node = token ? await authenticateNode(token) : undefined;
      if (!node) throw unauthorized('this endpoint is for enrolled nodes: the node credential is missing or revoked');
      request.nodePrincipal = node;
      return;
    }
    const principal = token ? await auth.authenticate(token) : undefined;
    if (!principal) {
      // A node credential is authentic but may never act as a user.
      if (token && (await authenticateNode(token))) throw forbidden('node credentials may only call node endpoints');
      throw AuthService.unauthenticated();
    }
    if (!roleAtLeast(principal.user.role, access.role)) {
      throw forbidden(`your role (${principal.user.role}) may not do this; it needs ${access.role} or higher`);
    }
    request.principal = principal;
    request.sessionToken = token;
  });
}

/** The principal of a route that is not public (access control guarantees it). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw AuthService.unauthenticated();
  return request.principal;
}
