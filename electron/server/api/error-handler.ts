import type { FastifyError } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { ApiError } from '../../../common/api/errors.js';
import { isGenericMessage, plainIssueMessage } from '../../../common/field-messages.js';
import { CatalogUnavailableError } from '../db/catalog.js';
import { AppError } from '../errors.js';
import { InstallerError } from '../nodes/installer/installer.js';
import type { ZodApp } from './zod-app.js';

/** Maps every error to `{ error, message, field? }`; only genuine bugs become 500. */
export function registerErrorHandler(app: ZodApp): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      // The plugin's issue type references fastify internals that do not resolve under NodeNext; name what we read.
      const first = (err.validation as unknown as { keyword: string; instancePath: string; message?: string; params?: Record<string, unknown> }[])[0]!;
      const where = err.validationContext ?? 'body';
      const field = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
      // zod's generic text in plain words ("Enter a name"); a schema's own words stay as written.
      const said = first.message ?? 'invalid';
      const words = isGenericMessage(said) ? plainIssueMessage({ ...first.params, code: first.keyword, message: said }, field) : said;
      const message = field ? `${where} field "${field}": ${words}` : `${where}: ${words}`;
      return reply.code(400).send({ error: 'VALIDATION_FAILED', message, ...(field ? { field } : {}) } satisfies ApiError);
    }
    if (err instanceof AppError) {
      if (err.headers) void reply.headers(err.headers);
      return reply
        .code(err.statusCode)
        .send({ error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), ...(err.detail ? { detail: err.detail } : {}) } satisfies ApiError);
    }
    if (err instanceof InstallerError) {
      // The remote host or the node service said no: not our bug, and the message says what to fix.
      const status = err.code === 'HOST_KEY_MISMATCH' || err.code === 'AUTH_FAILED' || err.code === 'SUDO_PASSWORD_REQUIRED' ? 400 : 502;
      return reply.code(status).send({ error: err.code, message: err.message } satisfies ApiError);
    }
    const duplicate = duplicateName(err);
    if (duplicate) return reply.code(409).send(duplicate);
    if (err instanceof CatalogUnavailableError) {
      request.log.error({ err }, 'catalog unavailable');
      return reply.code(503).send({ error: 'CATALOG_UNAVAILABLE', message: 'the catalog database is not reachable right now; try again in a moment' });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors: bad JSON, wrong content type, body too large…
      return reply.code(status).send({ error: err.code ?? 'BAD_REQUEST', message: clientMessage(err) } satisfies ApiError);
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: 'INTERNAL', message: 'the server hit an unexpected error; details are in the server log' } satisfies ApiError);
  });
}

/** Unique name indexes (migrations 0001–0006): the field each one is about, and what it names. */
const NAME_INDEXES: Record<string, { field: string; what: string }> = {
  uq_users_username: { field: 'username', what: 'user' },
  uq_nodes_name: { field: 'name', what: 'node' },
  uq_destinations_name: { field: 'name', what: 'destination' },
  uq_hypervisors_name: { field: 'name', what: 'hypervisor' },
  uq_policies_name: { field: 'name', what: 'policy' },
  uq_m365_tenants_name: { field: 'name', what: 'Microsoft 365 tenant' },
};

/**
 * A second row of the same name that a check before the insert did not catch (a race, or a
 * name the catalog's collation takes as the same one, e.g. "cœur" and "coeur") is a 409 on
 * the name's field, not a 500.
 */
function duplicateName(err: unknown): ApiError | undefined {
  const e = err as { code?: string; sqlMessage?: string | null };
  if (e.code !== 'ER_DUP_ENTRY') return undefined;
  const index = /for key '(?:[^'.]*\.)?([^']+)'/.exec(e.sqlMessage ?? '')?.[1];
  const known = index ? NAME_INDEXES[index] : undefined;
  if (!known) return undefined;
  return {
    error: 'CONFLICT',
    message: `a ${known.what} of the same name already exists (names ignore case, accents and surrounding spaces)`,
    field: known.field,
  };
}

function clientMessage(err: FastifyError): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return `the request body is not valid JSON: ${err.message}`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'send the request body as application/json';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'the request body is too large';
    default:
      return err.message;
  }
}
