import type https from 'node:https';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

/** The Fastify instance type every route module receives: HTTPS, schemas in zod. */
export type ZodApp = FastifyInstance<
  https.Server,
  RawRequestDefaultExpression<https.Server>,
  RawReplyDefaultExpression<https.Server>,
  FastifyBaseLogger,
  ZodTypeProvider
>;
