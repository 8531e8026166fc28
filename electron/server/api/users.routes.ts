import { z } from 'zod';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import { CreateUserSchema, UpdateUserSchema, UserListSchema, UserRefParamsSchema, UserSchema } from '../../../common/api/users.js';
import type { UsersService } from '../auth/users.service.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };

/** User management is for administrators only, reading included: the list names every account. */
export function registerUserRoutes(app: ZodApp, users: UsersService): void {
  app.get(
    '/api/users',
    { config: { access: { role: 'admin' } }, schema: { tags: ['users'], summary: 'List users', response: { 200: UserListSchema, ...errors } } },
    async () => users.list(),
  );

  app.post(
    '/api/users',
    { config: { access: { role: 'admin' } }, schema: { tags: ['users'], summary: 'Create a user', body: CreateUserSchema, response: { 201: UserSchema, ...errors } } },
    async (request, reply) => reply.code(201).send(await users.create(request.body, principalOf(request), request.ip)),
  );

  app.patch(
    '/api/users/:user',
    {
      config: { access: { role: 'admin' } },
      schema: { tags: ['users'], summary: 'Change a user\'s role or password', params: UserRefParamsSchema, body: UpdateUserSchema, response: { 200: UserSchema, ...errors } },
    },
    async (request) => users.update(request.params.user, request.body, principalOf(request), request.ip),
  );

  app.delete(
    '/api/users/:user',
    { config: { access: { role: 'admin' } }, schema: { tags: ['users'], summary: 'Remove a user', params: UserRefParamsSchema, response: { 204: z.null().describe('removed'), ...errors } } },
    async (request, reply) => {
      await users.remove(request.params.user, principalOf(request), request.ip);
      return reply.code(204).send(null);
    },
  );
}
