import type { WebSocket } from 'ws';
import type { ServerEvent } from '../../../common/api/events.js';
import type { EventBus } from '../events/event-bus.js';
import { forbidden } from '../errors.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

/**
 * Live updates: the UI keeps one WebSocket open and refreshes what an event
 * names. Authenticated like any route (cookie or bearer, checked before the
 * upgrade); a foreign Origin is refused against cross-site WebSocket hijacking.
 */
export function registerEventRoutes(app: ZodApp, bus: EventBus): void {
  app.get(
    '/api/events',
    {
      websocket: true,
      config: { access: { role: 'viewer' } },
      schema: { tags: ['events'], summary: 'WebSocket stream of server events (JSON messages)', hide: true },
      preValidation: async (request) => {
        const origin = request.headers.origin;
        if (origin && new URL(origin).host !== request.headers.host) throw forbidden('WebSocket connections from other sites are refused');
      },
    },
    (socket: WebSocket, request) => {
      const user = principalOf(request).user;
      const send = (event: ServerEvent): void => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(event));
      };
      const unsubscribe = bus.subscribe(send);
      const ping = setInterval(() => socket.ping(), 25_000);
      socket.on('close', () => {
        clearInterval(ping);
        unsubscribe();
      });
      socket.on('error', () => socket.terminate());
      send({ type: 'hello', serverTime: new Date().toISOString(), user: user.username });
    },
  );
}
