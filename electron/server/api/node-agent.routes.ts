import type { WebSocket } from 'ws';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import { EnrollRequestSchema, EnrollResponseSchema } from '../../../common/api/nodes.js';
import type { EnrollmentService } from '../nodes/enrollment.service.js';
import type { NodeSessions } from '../nodes/node-sessions.js';
import type { ZodApp } from './zod-app.js';

/** The only endpoints a node uses: enrol once with a token, then keep one WebSocket open. */
export function registerNodeAgentRoutes(app: ZodApp, deps: { enrollment: EnrollmentService; sessions: NodeSessions }): void {
  app.post(
    '/api/node/enroll',
    {
      config: { access: 'public' },
      schema: { tags: ['node agent'], summary: 'Trade a one-time enrollment token for a node credential', body: EnrollRequestSchema, response: { 200: EnrollResponseSchema, 400: ApiErrorSchema, 401: ApiErrorSchema, 409: ApiErrorSchema } },
    },
    async (request) => deps.enrollment.enroll(request.body, request.ip),
  );

  app.get(
    '/api/node/connect',
    { websocket: true, config: { access: 'node' }, schema: { tags: ['node agent'], summary: 'Node WebSocket (see common/node-protocol.ts)', hide: true } },
    (socket: WebSocket, request) => {
      // Attach synchronously: the node says hello as soon as the socket opens.
      const principal = request.nodePrincipal!;
      deps.sessions.attach(socket, { id: principal.nodeId, name: principal.name });
    },
  );
}
