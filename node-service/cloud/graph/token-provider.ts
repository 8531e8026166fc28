import { createHash, X509Certificate } from 'node:crypto';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { authErrorOf } from './cloud-errors.js';
import type { HttpTransport } from './http-transport.js';
import { graphEndpoints, type TenantSettings } from './tenant-settings.js';

/**
 * App-only tokens for one tenant (client credentials, MSAL caches them). `knownAuthorities`
 * names the configured host so MSAL never asks login.microsoftonline.com's instance
 * discovery about it (a national cloud or a proxy-only site would fail, and tests would leave
 * the machine).
 */
export class TokenProvider {
  private readonly app: ConfidentialClientApplication;
  private readonly scope: string;
  private readonly authority: string;

  constructor(
    private readonly settings: TenantSettings,
    private readonly transport: HttpTransport,
  ) {
    const authorityHost = settings.authorityHost.replace(/\/+$/, '');
    this.authority = `${authorityHost}/${settings.tenantId}`;
    const config: Configuration = {
      auth: {
        clientId: settings.clientId,
        authority: this.authority,
        knownAuthorities: [new URL(authorityHost).host],
        ...credentialOf(settings),
      },
      system: { networkClient: transport.msalNetworkModule() },
    };
    this.app = new ConfidentialClientApplication(config);
    this.scope = graphEndpoints(settings).scope;
  }

  /** A bearer token; `fresh` skips the cache (after Graph said the token is no longer valid). */
  async token(fresh = false): Promise<{ token: string; roles: string[] }> {
    let result;
    try {
      result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope], skipCache: fresh });
    } catch (err) {
      if ((err as { errorCode?: string }).errorCode === 'endpoints_resolution_error') throw await this.whyNoEndpoints(err);
      throw authErrorOf(err, this.settings);
    }
    if (!result?.accessToken) throw authErrorOf(new Error('the identity platform returned no access token'), this.settings);
    return { token: result.accessToken, roles: rolesOf(result.accessToken) };
  }

  /**
   * MSAL says only "endpoints_resolution_error" when the authority's OpenID configuration
   * cannot be read; ask for it once more to tell the admin why (DNS, TLS, unknown tenant).
   */
  private async whyNoEndpoints(original: unknown): Promise<Error> {
    try {
      const res = await this.transport.fetch(`${this.authority}/v2.0/.well-known/openid-configuration`, { signal: AbortSignal.timeout(30_000) });
      const body = (await res.json().catch(() => null)) as { error_description?: string } | null;
      if (body?.error_description) return authErrorOf({ errorMessage: body.error_description }, this.settings);
      return authErrorOf(original, this.settings);
    } catch (err) {
      return authErrorOf(err, this.settings);
    }
  }
}

function credentialOf(settings: TenantSettings): Pick<NonNullable<Configuration['auth']>, 'clientSecret' | 'clientCertificate'> {
  const c = settings.credential;
  if (c.kind === 'secret') return { clientSecret: c.secret };
  const cert = new X509Certificate(c.certificatePem);
  return { clientCertificate: { thumbprintSha256: createHash('sha256').update(cert.raw).digest('hex').toUpperCase(), privateKey: c.privateKeyPem } };
}

/** The application permissions granted (the access token's `roles` claim); [] when unreadable. */
export function rolesOf(accessToken: string): string[] {
  try {
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}
