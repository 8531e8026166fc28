import { ApiErrorSchema } from '../../../common/api/errors.js';
import { JobDetailsSchema, JobIdParamsSchema, JobListQuerySchema, JobPageSchema } from '../../../common/api/jobs.js';
import type { JobsService } from '../tasks/jobs.service.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema };

export function registerJobRoutes(app: ZodApp, deps: { jobs: JobsService }): void {
  app.get(
    '/api/jobs',
    {
      config: { access: { role: 'viewer' } },
      schema: { tags: ['tasks'], summary: 'Jobs (a backup, restore, mount, snapshot or policy run, each with its steps), newest first', querystring: JobListQuerySchema, response: { 200: JobPageSchema, ...errors } },
    },
    async (request) => deps.jobs.page(request.query),
  );
  app.get(
    '/api/jobs/:id',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['tasks'], summary: 'A job with its steps, summary and the log of every step', params: JobIdParamsSchema, response: { 200: JobDetailsSchema, ...errors } } },
    async (request) => deps.jobs.get(request.params.id),
  );
}
