import { z } from 'zod';
import {
  CheckS3DestinationSchema,
  CreatedDestinationSchema,
  CreateDestinationSchema,
  S3CheckAnswerSchema,
  DestinationRefParamsSchema,
  DestinationSchema,
  DestinationUsagePointSchema,
  GcRequestSchema,
  PruneRequestSchema,
  ResetDestinationPasswordSchema,
  UpdateDestinationSchema,
  UpdateS3CredentialsSchema,
  VerifyRequestSchema,
} from '../../../common/api/destinations.js';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import { TaskSchema } from '../../../common/api/tasks.js';
import type { DestinationsService } from '../destinations/destinations.service.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
const params = DestinationRefParamsSchema;

export function registerDestinationRoutes(app: ZodApp, deps: { destinations: DestinationsService }): void {
  const svc = deps.destinations;
  app.get('/api/destinations', { config: { access: { role: 'viewer' } }, schema: { tags: ['destinations'], summary: 'Backup destinations', response: { 200: z.array(DestinationSchema), ...errors } } }, async () =>
    svc.list(),
  );

  app.get(
    '/api/destinations/:destination',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['destinations'], summary: 'One destination', params, response: { 200: DestinationSchema, ...errors } } },
    async (request) => svc.get(request.params.destination),
  );

  app.post(
    '/api/destinations',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags: ['destinations'],
        summary:
          'Add a destination: a directory on a node (`path`) or a bucket of an S3-compatible store the node reaches (`s3`, its secret key kept sealed and never shown); checks it from its node and creates (or opens) the repository there. With recoveryKey, an encrypted repository whose password is lost is opened with its recovery key and `password` is set as its new password first',
        body: CreateDestinationSchema,
        response: { 201: CreatedDestinationSchema, ...errors, 502: ApiErrorSchema, 504: ApiErrorSchema },
      },
    },
    async (request, reply) => reply.code(201).send(await svc.create(request.body, principalOf(request))),
  );

  app.post(
    '/api/destinations/check-s3',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags: ['destinations'],
        summary: "Check an S3 destination before adding it: the node reaches the store and opens the repository under the prefix (or finds none yet); nothing is created or kept. A failure names the field it is about",
        body: CheckS3DestinationSchema,
        response: { 200: S3CheckAnswerSchema, ...errors, 502: ApiErrorSchema, 504: ApiErrorSchema },
      },
    },
    async (request) => svc.checkS3(request.body, principalOf(request)),
  );

  app.patch(
    '/api/destinations/:destination',
    { config: { access: { role: 'admin' } }, schema: { tags: ['destinations'], summary: 'Rename a destination', params, body: UpdateDestinationSchema, response: { 200: DestinationSchema, ...errors } } },
    async (request) => svc.rename(request.params.destination, request.body.name, principalOf(request)),
  );

  app.delete(
    '/api/destinations/:destination',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags: ['destinations'],
        summary: 'Forget a destination (its data stays); force=true also forgets the backups the catalog lists on it',
        params,
        querystring: z.object({ force: z.enum(['true', 'false']).optional() }),
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      await svc.remove(request.params.destination, request.query.force === 'true', principalOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/destinations/:destination/reset-password',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags: ['destinations'],
        summary:
          "Set a new password on an encrypted destination whose password is lost: its node opens the repository with the recovery key and replaces the old password with the new one (the old one no longer opens it); the catalog keeps the new one, and the destination is checked again",
        params,
        body: ResetDestinationPasswordSchema,
        response: { 200: DestinationSchema, ...errors, 502: ApiErrorSchema, 504: ApiErrorSchema },
      },
    },
    async (request) => svc.resetPassword(request.params.destination, request.body, principalOf(request)),
  );

  app.put(
    '/api/destinations/:destination/s3-credentials',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags: ['destinations'],
        summary: "Change an S3 destination's access key and secret key (key rotation): its node checks the repository with the new keys first; the old keys stay when the check fails",
        params,
        body: UpdateS3CredentialsSchema,
        response: { 200: DestinationSchema, ...errors, 502: ApiErrorSchema, 504: ApiErrorSchema },
      },
    },
    async (request) => svc.updateS3Credentials(request.params.destination, request.body, principalOf(request)),
  );

  app.get(
    '/api/destinations/:destination/usage',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['destinations'], summary: 'Stored and logical size over time', params, response: { 200: z.array(DestinationUsagePointSchema), ...errors } } },
    async (request) => svc.usage(request.params.destination),
  );

  const task = { 202: TaskSchema, ...errors };
  app.post(
    '/api/destinations/:destination/verify',
    { config: { access: { role: 'operator' } }, schema: { tags: ['destinations'], summary: 'Verify every stored chunk (task)', params, body: VerifyRequestSchema, response: task } },
    async (request, reply) => reply.code(202).send(await svc.verify(request.params.destination, request.body.subset, principalOf(request))),
  );
  app.post(
    '/api/destinations/:destination/prune',
    { config: { access: { role: 'operator' } }, schema: { tags: ['destinations'], summary: 'Apply retention; dryRun shows what would go (task)', params, body: PruneRequestSchema, response: task } },
    async (request, reply) => reply.code(202).send(await svc.prune(request.params.destination, request.body.retention, request.body.dryRun, principalOf(request))),
  );
  app.post(
    '/api/destinations/:destination/gc',
    { config: { access: { role: 'operator' } }, schema: { tags: ['destinations'], summary: 'Remove chunks no backup references (task)', params, body: GcRequestSchema, response: task } },
    async (request, reply) => reply.code(202).send(await svc.gc(request.params.destination, request.body.graceHours, principalOf(request))),
  );
  app.post(
    '/api/destinations/:destination/import',
    { config: { access: { role: 'operator' } }, schema: { tags: ['destinations'], summary: 'Re-import the backups found on the destination into the catalog (task)', params, body: z.object({}).nullish(), response: task } },
    async (request, reply) => reply.code(202).send(await svc.reimport(request.params.destination, principalOf(request))),
  );
  app.post(
    '/api/destinations/:destination/refresh',
    { config: { access: { role: 'operator' } }, schema: { tags: ['destinations'], summary: 'Re-check the path and refresh the numbers (task)', params, body: z.object({}).nullish(), response: task } },
    async (request, reply) => reply.code(202).send(await svc.refresh(request.params.destination, principalOf(request))),
  );

}
