import { z } from 'zod';
import { BackupRefParamsSchema } from '../../../common/api/backups.js';
import { CopyListItemSchema, CopyListQuerySchema, CreateCopySchema } from '../../../common/api/copies.js';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import { TaskSchema } from '../../../common/api/tasks.js';
import type { CopiesService } from '../copies/copies.service.js';
import type { DestinationsRepository } from '../destinations/destinations.repository.js';
import { notFound } from '../errors.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };

/** Copies of backups on other destinations (issue 19). */
export function registerCopyRoutes(app: ZodApp, deps: { copies: CopiesService; destinations: DestinationsRepository }): void {
  const svc = deps.copies;
  app.post(
    '/api/backups/:id/copies',
    {
      config: { access: { role: 'operator' } },
      schema: {
        tags: ['backups'],
        summary:
          "Copy a backup to another destination (a COPY task on its destination's node, sending only the chunks the target lacks). The target must be reachable from that node: an S3 destination, or a directory destination on the same node",
        params: BackupRefParamsSchema,
        body: CreateCopySchema,
        response: { 202: TaskSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(202).send(await svc.create(request.params.id, request.body.to, principalOf(request))),
  );

  app.get(
    '/api/copies',
    {
      config: { access: { role: 'viewer' } },
      schema: { tags: ['backups'], summary: 'Copies of backups on other destinations, newest first', querystring: CopyListQuerySchema, response: { 200: z.array(CopyListItemSchema), ...errors } },
    },
    async (request) => {
      const { destination, ...q } = request.query;
      let destinationId: number | undefined;
      if (destination) {
        const row = await deps.destinations.byRef(destination);
        if (!row) throw notFound(`there is no destination "${destination}"`, 'destination');
        destinationId = row.id;
      }
      return svc.list({ ...q, ...(destinationId !== undefined ? { destinationId } : {}) });
    },
  );
}
