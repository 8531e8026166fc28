import type { FastifyReply, FastifyRequest } from 'fastify';
import { LoginResponseSchema, LoginSchema, MeResponseSchema, SetupSchema } from '../../../common/api/auth.js';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import type { AuthService, ClientContext, IssuedSession } from '../auth/auth.service.js';
import type { SetupCode } from '../auth/setup-code.js';
import { AppError, conflict } from '../errors.js';
import { SESSION_COOKIE, principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

export function clientContext(request: FastifyRequest): ClientContext {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, ...(ua ? { userAgent: ua } : {}) };
}

function setSessionCookie(reply: FastifyReply, s: IssuedSession): void {
  void reply.setCookie(SESSION_COOKIE, s.token, {
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    path: '/',
    expires: s.expiresAt,
  });
}

export function registerAuthRoutes(app: ZodApp, auth: AuthService, setupCode: SetupCode): void {
  app.post(
    '/api/setup',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'First-run: create the first administrator (only while no user exists)',
        body: SetupSchema,
        response: { 201: LoginResponseSchema, 400: ApiErrorSchema, 403: ApiErrorSchema, 409: ApiErrorSchema },
      },
    },
    async (request, reply) => {
      if (!(await auth.setupRequired())) throw conflict('the first administrator already exists; sign in instead');
      if (!setupCode.matches(request.body.setupCode)) {
        throw new AppError(403, 'SETUP_CODE_WRONG', `the setup code is wrong: it is in ${setupCode.file} on the server's machine and in the server's log`, 'setupCode');
      }
      const s = await auth.setup(request.body.username, request.body.password, clientContext(request));
      await setupCode.consume();
      setSessionCookie(reply, s);
      return reply.code(201).send({ user: s.user, expiresAt: s.expiresAt.toISOString() });
    },
  );

  app.post(
    '/api/auth/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in; sets a session cookie, or returns a bearer token when issueToken is true',
        body: LoginSchema,
        response: { 200: LoginResponseSchema, 400: ApiErrorSchema, 401: ApiErrorSchema, 429: ApiErrorSchema },
      },
    },
    async (request, reply) => {
      const kind = request.body.issueToken ? 'token' : 'cookie';
      const s = await auth.login(request.body.username, request.body.password, kind, clientContext(request));
      if (kind === 'cookie') setSessionCookie(reply, s);
      return { user: s.user, expiresAt: s.expiresAt.toISOString(), ...(kind === 'token' ? { token: s.token } : {}) };
    },
  );

  app.post(
    '/api/auth/logout',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['auth'], summary: 'End this session or revoke this token' } },
    async (request, reply) => {
      await auth.logout(request.sessionToken!, principalOf(request), clientContext(request));
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/auth/me',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['auth'], summary: 'The signed-in user', response: { 200: MeResponseSchema, 401: ApiErrorSchema } } },
    async (request) => ({ user: principalOf(request).user }),
  );
}
