import { HealthSchema, StatusSchema, type Health } from '../../../common/api/health.js';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import type { AuthService } from '../auth/auth.service.js';
import type { SetupCode } from '../auth/setup-code.js';
import type { UsersRepository } from '../auth/users.repository.js';
import type { Catalog } from '../db/catalog.js';
import type { Migrator } from '../db/migrator.js';
import type { NodesRepository } from '../nodes/nodes.repository.js';
import type { TasksRepository } from '../tasks/tasks.repository.js';
import type { ZodApp } from './zod-app.js';

export interface HealthDeps {
  version: string;
  fingerprint: string;
  dataDir: string;
  startedAt: Date;
  catalog: Catalog;
  auth: AuthService;
  users: UsersRepository;
  migrator: Migrator;
  nodes: NodesRepository;
  tasks: TasksRepository;
  setupCode: SetupCode;
}

export async function health(deps: HealthDeps): Promise<Health> {
  const catalog = await deps.catalog.info();
  const setupRequired = catalog.ok ? await deps.auth.setupRequired() : false;
  return {
    status: catalog.ok ? 'ok' : 'degraded',
    version: deps.version,
    catalog,
    tlsFingerprint: deps.fingerprint,
    setupRequired,
    setupCodeFile: setupRequired ? deps.setupCode.file : null,
    time: new Date().toISOString(),
  };
}

export function registerHealthRoutes(app: ZodApp, deps: HealthDeps): void {
  app.get(
    '/api/health',
    {
      config: { access: 'public' },
      schema: { tags: ['server'], summary: 'Liveness, version and catalog status', response: { 200: HealthSchema } },
    },
    async () => health(deps),
  );

  app.get(
    '/api/status',
    {
      config: { access: { role: 'viewer' } },
      schema: { tags: ['server'], summary: 'Server status for the dashboard and `vplus status`', response: { 200: StatusSchema, 401: ApiErrorSchema } },
    },
    async () => {
      const h = await health(deps);
      return {
        ...h,
        startedAt: deps.startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
        dataDir: deps.dataDir,
        users: await deps.users.count(),
        migrations: await deps.migrator.applied(),
        nodes: await deps.nodes.countOnline(),
        tasks: await deps.tasks.counts(),
      };
    },
  );
}
