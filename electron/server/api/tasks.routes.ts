import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  CancelTaskSchema,
  CreateNodeCheckSchema,
  TASK_LOG_EMBEDDED,
  TaskDetailsSchema,
  TaskIdParamsSchema,
  TaskListQuerySchema,
  TaskLogPageSchema,
  TaskLogQuerySchema,
  TaskPageSchema,
  TaskSchema,
} from '../../../common/api/tasks.js';
import { notFound } from '../errors.js';
import type { NodesRepository } from '../nodes/nodes.repository.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import type { TasksRepository } from '../tasks/tasks.repository.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };

export function registerTaskRoutes(app: ZodApp, deps: { engine: TaskEngine; tasks: TasksRepository; nodes: NodesRepository }): void {
  app.get(
    '/api/tasks',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['tasks'], summary: 'Tasks, newest first, a page at a time (keyset: pass nextCursor back as cursor)', querystring: TaskListQuerySchema, response: { 200: TaskPageSchema, ...errors } } },
    async (request) => {
      const { node, ...q } = request.query;
      let filter: { id: number; name: string } | undefined;
      if (node) {
        const row = await deps.nodes.byRef(node);
        if (!row) throw notFound(`there is no node "${node}"`);
        filter = { id: row.id, name: row.name };
      }
      const page = await deps.tasks.page({ ...q, ...(filter ? { node: filter } : {}) });
      // Running tasks carry live progress that is not in the catalog yet.
      return { ...page, tasks: await Promise.all(page.tasks.map(async (t) => (t.state === 'RUNNING' || deps.engine.isSettling(t.id) ? deps.engine.get(t.id) : t))) };
    },
  );

  app.get(
    '/api/tasks/:id',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['tasks'], summary: 'A task with its log', params: TaskIdParamsSchema, response: { 200: TaskDetailsSchema, ...errors } } },
    async (request) => {
      const task = await deps.engine.get(request.params.id);
      const log = await deps.tasks.log(task.id, { limit: TASK_LOG_EMBEDDED });
      return { ...task, log: log.lines, logCursor: log.nextCursor };
    },
  );

  app.get(
    '/api/tasks/:id/log',
    {
      config: { access: { role: 'viewer' } },
      schema: {
        tags: ['tasks'],
        summary: "A task's log a page at a time, from the newest line back (each page oldest first)",
        params: TaskIdParamsSchema,
        querystring: TaskLogQuerySchema,
        response: { 200: TaskLogPageSchema, ...errors },
      },
    },
    async (request) => {
      const task = await deps.tasks.get(request.params.id);
      if (!task) throw notFound(`there is no task ${request.params.id}`);
      return deps.tasks.log(task.id, request.query);
    },
  );

  app.post(
    '/api/tasks/:id/cancel',
    {
      config: { access: { role: 'operator' } },
      schema: { tags: ['tasks'], summary: 'Cancel a task: graceful first, forced on a second request', params: TaskIdParamsSchema, body: CancelTaskSchema, response: { 200: TaskSchema, ...errors } },
    },
    async (request) => deps.engine.cancel(request.params.id, request.body.force ?? false, principalOf(request).user.username),
  );

  app.post(
    '/api/tasks/node-check',
    {
      config: { access: { role: 'operator' } },
      schema: { tags: ['tasks'], summary: 'Check a node: staging free space and write speed', body: CreateNodeCheckSchema, response: { 201: TaskSchema, ...errors } },
    },
    async (request, reply) => {
      const node = await deps.nodes.byRef(request.body.node);
      if (!node) throw notFound(`there is no node "${request.body.node}"`);
      const task = await deps.engine.create({
        type: 'NODE_CHECK',
        params: { sampleBytes: request.body.sampleBytes },
        requiredNodeId: node.id,
        subject: `node:${node.name}`,
        priority: request.body.priority,
        // A check can hit a passing hiccup (a busy disk); one retry is cheap.
        maxAttempts: 2,
        createdBy: principalOf(request).user.username,
      });
      return reply.code(201).send(task);
    },
  );
}
