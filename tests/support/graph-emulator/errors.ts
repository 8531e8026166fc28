/**
 * Errors as Microsoft Graph returns them (https://learn.microsoft.com/graph/errors): an HTTP
 * status and {"error": {"code", "message", "innerError": {...}}}, where innerError may carry a
 * more specific code, plus the request-id and date every Graph error has.
 */
import { randomUUID } from 'node:crypto';

export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** One result of a Graph handler: what the server writes, or what a $batch response carries. */
export interface GraphResult {
  status: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: Buffer;
}

export function errorBody(err: GraphError, requestId: string, clientRequestId?: string): unknown {
  const innerError: Record<string, string> = {
    ...(err.innerCode !== undefined ? { code: err.innerCode } : {}),
    date: new Date().toISOString().replace(/\.\d+Z$/, ''),
    'request-id': requestId,
    'client-request-id': clientRequestId ?? requestId,
  };
  return { error: { code: err.code, message: err.message, innerError } };
}

export function errorResult(err: GraphError, clientRequestId?: string): GraphResult {
  const requestId = randomUUID();
  return {
    status: err.status,
    headers: { ...err.headers, 'request-id': requestId, 'client-request-id': clientRequestId ?? requestId },
    json: errorBody(err, requestId, clientRequestId),
  };
}

export const notFound = (message = 'The resource could not be found.'): GraphError => new GraphError(404, 'itemNotFound', message);
export const badRequest = (message: string, code = 'invalidRequest', inner?: string): GraphError => new GraphError(400, code, message, inner);
export const nameConflict = (): GraphError => new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
