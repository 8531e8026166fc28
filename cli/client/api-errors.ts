import { CliError, errorMessage } from '../errors.js';

/** A 4xx/5xx answer from the API, carrying the server's code and message. */
export class ApiRequestError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message, 1);
    this.name = 'ApiRequestError';
  }
}

/**
 * The server could not be reached at all (refused, timed out, reset). A
 * caller that follows a long task may retry; everyone else reports it.
 */
export class ApiConnectionError extends CliError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'ApiConnectionError';
  }
}

/**
 * A failed connection, as an actionable sentence naming the server:
 * "cannot reach the server at https://h:8181: connection refused; is it running?"
 */
export function describeRequestFailure(err: unknown, server: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  const prefix = `cannot reach the server at ${server}`;
  switch (code) {
    case 'CERT_FINGERPRINT_MISMATCH':
      return `${server}: ${errorMessage(err)}`;
    case 'ECONNREFUSED':
      return `${prefix}: connection refused; is it running?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `${prefix}: the host name does not resolve; check the address`;
    case 'ETIMEDOUT':
      return `${prefix}: the connection timed out; check the address and any firewall in between`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${prefix}: no route to the host; check the address and the network`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `${prefix}: the connection was closed; is that the vPlus HTTPS port?`;
    default:
      break;
  }
  if (typeof code === 'string' && (code.startsWith('ERR_SSL') || code === 'EPROTO' || code.startsWith('ERR_TLS'))) {
    return `${prefix}: the TLS handshake failed (${errorMessage(err)}); is that the vPlus HTTPS port?`;
  }
  return `${prefix}: ${errorMessage(err)}`;
}
