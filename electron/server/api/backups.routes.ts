import { z } from 'zod';
import { BackupListQuerySchema, BackupPageSchema, BackupRefParamsSchema, BackupSchema, UpdateBackupSchema } from '../../../common/api/backups.js';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import { decodeTimeCursor } from '../../../common/api/paging.js';
import { TaskSchema } from '../../../common/api/tasks.js';
import type { BackupsService } from '../backups/backups.service.js';
import type { DestinationsRepository } from '../destinations/destinations.repository.js';
import { notFound } from '../errors.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
const params = BackupRefParamsSchema;

export function registerBackupRoutes(app: ZodApp, deps: { backups: BackupsService; destinations: DestinationsRepository }): void {
  const svc = deps.backups;
  app.get(
    '/api/backups',
    {
      config: { access: { role: 'viewer' } },
      schema: { tags: ['backups'], summary: 'Backups in the catalog, newest first, a page at a time (pass nextCursor back as cursor)', querystring: BackupListQuerySchema, response: { 200: BackupPageSchema, ...errors } },
    },
    async (request) => {
      const { destination, protected: isProtected, cursor, ...q } = request.query;
      let destinationId: number | undefined;
      if (destination) {
        const row = await deps.destinations.byRef(destination);
        if (!row) throw notFound(`there is no destination "${destination}"`);
        destinationId = row.id;
      }
      return svc.list({
        ...q,
        ...(cursor !== undefined ? { cursor: decodeTimeCursor(cursor) } : {}),
        ...(destinationId !== undefined ? { destinationId } : {}),
        ...(isProtected !== undefined ? { protected: isProtected === 'true' } : {}),
      });
    },
  );

  app.get(
    '/api/backups/:id',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['backups'], summary: 'One backup', params, response: { 200: BackupSchema, ...errors } } },
    async (request) => svc.get(request.params.id),
  );

  app.patch(
    '/api/backups/:id',
    {
      config: { access: { role: 'operator' } },
      schema: { tags: ['backups'], summary: 'Protect a backup from retention (or not), or change its notes', params, body: UpdateBackupSchema, response: { 200: BackupSchema, ...errors } },
    },
    async (request) => svc.update(request.params.id, request.body, principalOf(request)),
  );

  app.delete(
    '/api/backups/:id',
    {
      config: { access: { role: 'operator' } },
      schema: {
        tags: ['backups'],
        summary:
          'Delete one backup from its destination, its copies on other destinations and the catalog (tasks; answers with the one on its own destination); refused while it is protected or being copied. keepCopies=true deletes it from its own destination only: its copies become backups of their destinations',
        params,
        querystring: z.object({ keepCopies: z.enum(['true', 'false']).optional() }),
        response: { 202: TaskSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(202).send(await svc.remove(request.params.id, principalOf(request), { keepCopies: request.query.keepCopies === 'true' })),
  );
}
