import fs from 'node:fs';
import path from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { AuthService } from '../auth/auth.service.js';
import { LOG_SERIALIZERS } from '../logger.js';
import { registerAccessControl, type NodeAuthenticator } from './access-control.js';
import { registerErrorHandler } from './error-handler.js';
import type { ZodApp } from './zod-app.js';

export interface HttpServerOptions {
  logger: Logger;
  tls: { key: string; cert: string };
  auth: AuthService;
  authenticateNode: NodeAuthenticator;
  version: string;
  /** Built admin UI (index.html + assets); a hint page is served when it is missing. */
  uiDir: string;
  /** False once the server is stopping: every new request (and WebSocket) is refused with 503. */
  accepting?: () => boolean;
}

const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Mantine injects style attributes at runtime.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Builds the HTTPS app with the cross-cutting parts (TLS, validation, access
 * control, errors, OpenAPI, WebSocket, the UI). Domain route modules are
 * registered by the caller via `routes`.
 */
export async function createHttpServer(options: HttpServerOptions, routes: (app: ZodApp) => void): Promise<ZodApp> {
  const app = Fastify({
    // Whatever logger we are given, requests are logged without their query strings.
    loggerInstance: options.logger.child({ module: 'http' }, { serializers: LOG_SERIALIZERS }),
    https: { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' },
    trustProxy: false,
    bodyLimit: 1024 * 1024,
  }).withTypeProvider<ZodTypeProvider>() as unknown as ZodApp;

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);

  await app.register(fastifyCookie);
  // Nodes send listings of up to 5,000 entries and 256 KiB frames of file data over theirs;
  // browsers send nothing on theirs (the events socket only pushes).
  await app.register(fastifyWebsocket, { options: { maxPayload: 8 * 1024 * 1024 } });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'vPlus server API', version: options.version, description: 'REST API of the vPlus backup server' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'vplus_session' },
        },
      },
      security: [{ bearer: [] }, { cookie: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });

  const accepting = options.accepting;
  if (accepting) {
    app.addHook('onRequest', async (request, reply) => {
      if (accepting()) return;
      if (request.headers.upgrade) {
        // A WebSocket (a node reconnecting): the connection is refused as by a closed port, which
        // every client retries, rather than answered with a status some treat as final.
        reply.hijack();
        request.raw.socket.destroy();
        return;
      }
      void reply.header('connection', 'close');
      return reply.code(503).send({ error: 'SERVER_STOPPING', message: 'the server is stopping' });
    });
  }
  registerAccessControl(app, options.auth, options.authenticateNode);

  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('x-frame-options', 'DENY');
    if (!request.url.startsWith('/api/')) void reply.header('content-security-policy', UI_CSP);
    if (request.url.startsWith('/api/') && !request.url.startsWith('/api/docs')) void reply.header('cache-control', 'no-store');
  });

  routes(app);

  const hasUi = fs.existsSync(path.join(options.uiDir, 'index.html'));
  if (hasUi) {
    await app.register(fastifyStatic, { root: options.uiDir, prefix: '/', index: ['index.html'], wildcard: true });
  } else {
    options.logger.warn({ uiDir: options.uiDir }, 'the admin UI is not built; run "npm run build"');
  }

  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/api/') || request.method !== 'GET') {
      return reply.code(404).send({ error: 'NOT_FOUND', message: `there is no ${request.method} ${request.url.split('?')[0]}` });
    }
    // Client-side routes of the single-page app all serve index.html.
    if (hasUi) return reply.type('text/html').sendFile('index.html');
    return reply
      .type('text/html')
      .send('<!doctype html><title>vPlus</title><p>The vPlus server is running, but the admin UI is not built. Run <code>npm run build</code>.</p>');
  });

  return app;
}
