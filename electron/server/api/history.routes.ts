import { ApiErrorSchema } from '../../../common/api/errors.js';
import { CatalogSizeSchema, HistoryLimitsSchema, HistorySettingsSchema } from '../../../common/api/history.js';
import type { HistoryService } from '../history/history.service.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema };
const tags = ['settings'];

/** How long history is kept, and pruning it: server configuration, administrators only. The catalog's size: for everyone. */
export function registerHistoryRoutes(app: ZodApp, deps: { history: HistoryService }): void {
  const svc = deps.history;

  app.get(
    '/api/settings/history',
    { config: { access: { role: 'admin' } }, schema: { tags, summary: 'How long finished tasks, logs, workflows, policy runs and audit entries are kept; the last prune', response: { 200: HistorySettingsSchema, ...errors } } },
    async () => svc.settings(),
  );

  app.put(
    '/api/settings/history',
    {
      config: { access: { role: 'admin' } },
      schema: { tags, summary: 'Set how long history is kept (days, or null for ever); backups are never pruned', body: HistoryLimitsSchema, response: { 200: HistorySettingsSchema, ...errors } },
    },
    async (request) => svc.update(request.body, principalOf(request)),
  );

  app.post(
    '/api/settings/history/prune',
    {
      config: { access: { role: 'admin' } },
      schema: { tags, summary: 'Prune the history now (in the background; GET /api/settings/history follows it)', response: { 202: HistorySettingsSchema, ...errors } },
    },
    async (request, reply) => reply.code(202).send(await svc.pruneNow(principalOf(request))),
  );

  app.get(
    '/api/catalog/size',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['server'], summary: "The catalog's size on disk, per table", response: { 200: CatalogSizeSchema, ...errors } } },
    async () => svc.catalogSize(),
  );
}
