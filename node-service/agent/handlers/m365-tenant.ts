import type { M365SettingField, M365TenantSettings, M365TestAnswer } from '../../../common/m365-tasks.js';
import { CloudError } from '../../cloud/graph/cloud-errors.js';
import { testConnection } from '../../cloud/graph/connection-test.js';
import type { GraphClientOptions } from '../../cloud/graph/graph-client.js';
import { TenantSession } from '../../cloud/graph/tenant-session.js';

/**
 * What the node's Microsoft 365 handlers share: one TenantSession per task or call (MSAL and
 * undici with the tenant's own CA), closed at its end, and sign-in failures tied to the
 * setting they are about so the admin's form shows them there.
 */
export async function withTenant<T>(settings: M365TenantSettings, options: GraphClientOptions, fn: (session: TenantSession) => Promise<T>): Promise<T> {
  const session = new TenantSession(settings, options);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/** The identity platform's AADSTS codes (cloud-errors.ts words each one) and the setting each is about. */
const AADSTS_FIELDS: Record<string, M365SettingField> = {
  '7000215': 'clientSecret',
  '7000222': 'clientSecret',
  '7000218': 'clientSecret',
  '700027': 'certificatePem',
  '700016': 'clientId',
  '90002': 'tenantId',
};

/** The setting a sign-in or connection failure is about; null when it is about none in particular. */
export function settingOf(err: CloudError, settings: Pick<M365TenantSettings, 'credential' | 'graphUrl'>): M365SettingField | null {
  const aadsts = /AADSTS(\d+)/.exec(`${err.detail ?? ''} ${err.message}`)?.[1];
  const field = aadsts ? AADSTS_FIELDS[aadsts] : undefined;
  if (field === 'clientSecret' && settings.credential.kind === 'certificate') return 'certificatePem';
  if (field) return field;
  if (err.code !== 'M365_UNREACHABLE') return null;
  if (/not trusted|TLS certificate/.test(err.message)) return 'caPem';
  // Graph's host is named in its own failures ("list the users: cannot reach graph.…").
  return err.message.includes(new URL(settings.graphUrl).host) ? 'graphUrl' : 'authorityHost';
}

/**
 * Test connection, answered as data: the permission checks when signing in works, or the
 * failure with its sentence, its code and the setting it is about.
 */
export async function testTenant(settings: M365TenantSettings, signal?: AbortSignal): Promise<M365TestAnswer> {
  try {
    // Two attempts: an admin waits on the answer, and a throttled tenant says so soon enough.
    const result = await withTenant(settings, { maxAttempts: 2 }, (s) => testConnection(s.graph, s.tokens, signal));
    return { ...result, signedIn: true, failure: null };
  } catch (err) {
    if (!(err instanceof CloudError) || (err.code !== 'M365_AUTH_FAILED' && err.code !== 'M365_UNREACHABLE')) throw err;
    const failure = { code: err.code, field: settingOf(err, settings), detail: err.detail?.slice(0, 4000) ?? null };
    return { ok: false, roles: [], checks: [], message: err.message, signedIn: false, failure };
  }
}
