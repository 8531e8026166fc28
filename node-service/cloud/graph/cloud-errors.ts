/**
 * Expected failures of the cloud agent, each with a code and a sentence an admin can act on
 * (the task's message). Graph's own code and message stay in `detail`.
 */
export type CloudErrorCode =
  | 'M365_AUTH_FAILED'
  | 'M365_PERMISSION_MISSING'
  | 'M365_UNREACHABLE'
  | 'M365_THROTTLED'
  | 'M365_NOT_FOUND'
  /** The user has no Exchange Online mailbox (or it is on-premises, inactive, soft-deleted). */
  | 'M365_NO_MAILBOX'
  | 'M365_RESYNC_REQUIRED'
  | 'M365_REQUEST_FAILED'
  | 'M365_CANCELLED';

export class CloudError extends Error {
  constructor(
    readonly code: CloudErrorCode,
    message: string,
    readonly detail?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CloudError';
  }
}

/** Graph's error body: {"error": {"code", "message", "innerError": {"code"?}}}. */
export interface GraphErrorBody {
  error?: { code?: string; message?: string; innerError?: { code?: string }; innererror?: { code?: string } };
}

export function graphErrorOf(status: number, body: GraphErrorBody | null, what: string): CloudError {
  const code = body?.error?.code ?? `HTTP ${status}`;
  const inner = body?.error?.innerError?.code ?? body?.error?.innererror?.code;
  const detail = `${code}${inner ? ` (${inner})` : ''}: ${body?.error?.message ?? ''}`.trim();
  if (status === 401) return new CloudError('M365_AUTH_FAILED', `Microsoft Graph refused the app's token for ${what}`, detail, status);
  if (status === 403) return new CloudError('M365_PERMISSION_MISSING', `the app may not ${what}: an application permission is missing or not consented`, detail, status);
  if (status === 404 && code === 'MailboxNotEnabledForRESTAPI') return new CloudError('M365_NO_MAILBOX', `${what}: the user has no Exchange Online mailbox (none licensed, or it is on-premises, inactive or soft-deleted)`, detail, status);
  if (status === 404) return new CloudError('M365_NOT_FOUND', `${what}: not found`, detail, status);
  if (status === 410) return new CloudError('M365_RESYNC_REQUIRED', `${what}: the change token expired`, detail, status);
  return new CloudError('M365_REQUEST_FAILED', `${what} failed: ${detail}`, detail, status);
}

/** MSAL's ServerError carries `errorCode` (e.g. invalid_client) and AADSTS text in its message. */
export function authErrorOf(err: unknown, settings: { tenantId: string; clientId: string; authorityHost: string }): CloudError {
  const e = err as { errorCode?: string; errorMessage?: string; message?: string; cause?: { code?: string; message?: string } };
  const text = `${e.errorMessage ?? e.message ?? String(err)}`;
  const aadsts = /AADSTS(\d+)/.exec(text)?.[1];
  const first = text.split(/\r?\n/)[0] ?? text;
  const where = `tenant ${settings.tenantId}`;
  switch (aadsts) {
    case '7000215':
      return new CloudError('M365_AUTH_FAILED', `the client secret is wrong for app ${settings.clientId}: use the secret's Value (not its Secret ID) from Certificates & secrets`, first);
    case '7000222':
      return new CloudError('M365_AUTH_FAILED', `the client secret of app ${settings.clientId} has expired: create a new one under Certificates & secrets`, first);
    case '700027':
      return new CloudError('M365_AUTH_FAILED', `the certificate is not registered on app ${settings.clientId} (or the private key does not match it)`, first);
    case '700016':
      return new CloudError('M365_AUTH_FAILED', `there is no application ${settings.clientId} in ${where}: check the Application (client) ID`, first);
    case '90002':
      return new CloudError('M365_AUTH_FAILED', `${where} was not found at ${settings.authorityHost}: check the Directory (tenant) ID and the authority host`, first);
  }
  const net = networkReason(err);
  if (net) return new CloudError('M365_UNREACHABLE', `cannot reach ${settings.authorityHost}: ${net}`, first);
  return new CloudError('M365_AUTH_FAILED', `signing in to ${where} failed: ${first}`, text);
}

/** A sentence for a connection-level failure (DNS, TLS, refused), or null for anything else. */
export function networkReason(err: unknown): string | null {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const { code, message } = e as { code?: string; message?: string };
    switch (code) {
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'the host name does not resolve (DNS)';
      case 'ECONNREFUSED':
        return 'the connection was refused';
      case 'ETIMEDOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
        return 'the connection timed out';
      case 'ECONNRESET':
      case 'UND_ERR_SOCKET':
        return 'the connection was reset';
      case 'SELF_SIGNED_CERT_IN_CHAIN':
      case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
        return `its TLS certificate is not trusted (${code}): if a proxy inspects TLS, add its CA to the tenant`;
      case 'CERT_HAS_EXPIRED':
        return 'its TLS certificate has expired';
      case 'ERR_TLS_CERT_ALTNAME_INVALID':
        return 'its TLS certificate is for another host name';
    }
    if (message && /fetch failed/.test(message) === false && code) return message;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/** 410 on a delta link: the token expired; `location` is where a fresh enumeration starts. */
export class ResyncRequiredError extends CloudError {
  constructor(
    what: string,
    detail: string,
    readonly location: string | null,
  ) {
    super('M365_RESYNC_REQUIRED', `${what}: the change token expired, a full enumeration is needed`, detail, 410);
    this.name = 'ResyncRequiredError';
  }
}
