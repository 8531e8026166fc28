import { z } from 'zod';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  EnrollmentTokenSchema,
  InstallNodeResponseSchema,
  InstallNodeSchema,
  NodeRefParamsSchema,
  NodeSchema,
  SshProbeResponseSchema,
  SshTargetSchema,
} from '../../../common/api/nodes.js';
import { TaskSchema } from '../../../common/api/tasks.js';
import type { EnrollmentService } from '../nodes/enrollment.service.js';
import type { NodesService } from '../nodes/nodes.service.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };

export interface NodeRouteDeps {
  nodes: NodesService;
  enrollment: EnrollmentService;
  fingerprint: string;
  probeHostKey(host: string, port: number): Promise<{ hostKeyFingerprint: string; keyType: string }>;
}

export function registerNodeRoutes(app: ZodApp, deps: NodeRouteDeps): void {
  const { nodes } = deps;
  app.get('/api/nodes', { config: { access: { role: 'viewer' } }, schema: { tags: ['nodes'], summary: 'List nodes', response: { 200: z.array(NodeSchema), ...errors } } }, async () =>
    nodes.list(),
  );

  app.get(
    '/api/nodes/:node',
    { config: { access: { role: 'viewer' } }, schema: { tags: ['nodes'], summary: 'One node', params: NodeRefParamsSchema, response: { 200: NodeSchema, ...errors } } },
    async (request) => nodes.get(request.params.node),
  );

  app.post(
    '/api/nodes/tokens',
    { config: { access: { role: 'admin' } }, schema: { tags: ['nodes'], summary: 'Create a one-time enrollment token', response: { 201: EnrollmentTokenSchema, ...errors } } },
    async (request, reply) => {
      const { token, expiresAt } = await deps.enrollment.createToken(principalOf(request).user.username);
      return reply.code(201).send({ token, expiresAt: expiresAt.toISOString(), fingerprint: deps.fingerprint });
    },
  );

  app.post(
    '/api/nodes/ssh-probe',
    {
      config: { access: { role: 'admin' } },
      schema: { tags: ['nodes'], summary: 'Read a host\'s SSH host key fingerprint (nothing is sent but the handshake)', body: SshTargetSchema, response: { 200: SshProbeResponseSchema, ...errors } },
    },
    async (request) => deps.probeHostKey(request.body.host, request.body.port),
  );

  app.post(
    '/api/nodes/install',
    {
      config: { access: { role: 'admin' } },
      schema: { tags: ['nodes'], summary: 'Install a node on this computer or over SSH (runs as a task)', body: InstallNodeSchema, response: { 202: InstallNodeResponseSchema, ...errors } },
    },
    async (request, reply) => reply.code(202).send(await nodes.install(request.body, principalOf(request), request.ip)),
  );

  app.post(
    '/api/nodes/:node/upgrade',
    { config: { access: { role: 'admin' } }, schema: { tags: ['nodes'], summary: 'Upgrade a node to this server\'s version (task)', params: NodeRefParamsSchema, response: { 202: TaskSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await nodes.upgrade(request.params.node, principalOf(request))),
  );

  app.post(
    '/api/nodes/:node/restart',
    { config: { access: { role: 'admin' } }, schema: { tags: ['nodes'], summary: 'Restart a node service', params: NodeRefParamsSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      await nodes.restart(request.params.node, principalOf(request));
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/api/nodes/:node',
    {
      config: { access: { role: 'admin' } },
      schema: {
        tags: ['nodes'],
        summary: 'Uninstall and remove a node (task); force=true forgets it even if its host cannot be reached',
        params: NodeRefParamsSchema,
        querystring: z.object({ force: z.enum(['true', 'false']).optional() }),
        response: { 202: TaskSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(202).send(await nodes.remove(request.params.node, principalOf(request), request.query.force === 'true')),
  );

  app.get(
    '/api/nodes/:node/log',
    {
      config: { access: { role: 'operator' } },
      schema: {
        tags: ['nodes'],
        summary: 'The last lines of a node service\'s log',
        params: NodeRefParamsSchema,
        querystring: z.object({ lines: z.coerce.number().int().min(1).max(5000).default(200) }),
        response: { 200: z.object({ lines: z.array(z.string()) }), ...errors },
      },
    },
    async (request) => ({ lines: await nodes.showLog(request.params.node, request.query.lines) }),
  );
}
