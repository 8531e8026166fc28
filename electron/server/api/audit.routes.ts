import { AuditPageSchema, AuditQuerySchema } from '../../../common/api/audit.js';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import type { AuditRepository } from '../auth/audit.repository.js';
import type { ZodApp } from './zod-app.js';

export function registerAuditRoutes(app: ZodApp, audit: AuditRepository): void {
  app.get(
    '/api/audit',
    {
      config: { access: { role: 'viewer' } },
      schema: { tags: ['audit'], summary: 'The audit log, newest first', querystring: AuditQuerySchema, response: { 200: AuditPageSchema, 400: ApiErrorSchema, 401: ApiErrorSchema } },
    },
    async (request) => audit.page(request.query),
  );
}
