/**
 * The identity platform side (login host), as MSAL uses it for client credentials:
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration   tenant by id or domain; 'common' too
 *   GET  /{tenant}/discovery/instance?api-version=1.1&authorization_endpoint=...   instance discovery
 *   GET  /{tenant}/discovery/v2.0/keys                      signing keys
 *   POST /{tenant}/oauth2/v2.0/token                        grant_type=client_credentials with
 *        client_secret or a certificate client_assertion; scope {resource}/.default
 * Errors are the STS's: {error, error_description "AADSTSnnn: ...\r\nTrace ID...", error_codes,
 * timestamp, trace_id, correlation_id, error_uri}. Access tokens are app-only v1 JWTs with the
 * app's consented application permissions in the roles claim; Graph verifies them here.
 */
import { randomUUID } from 'node:crypto';
import type { AppRegistration, Tenant } from './directory.model.js';
import { GraphError } from './errors.js';
import type { AppToken } from './graph-routes.js';
import { TokenSigner, decodeJwt, verifyJwtSignature } from './jwt.js';
import { certificateThumbprints } from './tls.js';

export interface IdentityResult {
  status: number;
  json?: unknown;
  tenantId?: string;
  clientId?: string;
}

export interface IdentityDeps {
  authorityOrigin(): string;
  graphOrigin(): string;
  /** Resource identifiers accepted in scope {resource}/.default and as the token audience. */
  graphResources(): string[];
  findTenant(idOrDomain: string): Tenant | undefined;
  tokenLifetimeSeconds(): number;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

export class Identity {
  readonly signer = new TokenSigner();
  /** uti of every token still valid; expireAccessTokens() empties it. */
  private readonly live = new Set<string>();

  constructor(private readonly deps: IdentityDeps) {}

  expireAccessTokens(): void {
    this.live.clear();
  }

  async handle(method: string, pathname: string, query: URLSearchParams, headers: Record<string, string>, body: () => Promise<Buffer>): Promise<IdentityResult> {
    const o = this.deps.authorityOrigin();
    const m = /^\/([^/]+)\/(.*)$/.exec(pathname);
    if (!m) return { status: 404 };
    const tenantRef = decodeURIComponent(m[1]!);
    const rest = m[2]!;
    const generic = ['common', 'organizations', 'consumers'].includes(tenantRef.toLowerCase());
    const tenant = generic ? undefined : this.deps.findTenant(tenantRef);
    const correlationId = headers['client-request-id'] ?? randomUUID();

    if (method === 'GET' && rest === 'discovery/instance') {
      const auth = query.get('authorization_endpoint') ?? `${o}/common/oauth2/v2.0/authorize`;
      const seg = /^https?:\/\/[^/]+\/([^/]+)\//.exec(auth)?.[1] ?? 'common';
      const host = new URL(o).host;
      return {
        status: 200,
        json: { tenant_discovery_endpoint: `${o}/${seg}/v2.0/.well-known/openid-configuration`, 'api-version': '1.1', metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }] },
      };
    }
    if (!generic && !tenant) return this.error(400, tenantRef === '' ? 'invalid_request' : method === 'GET' ? 'invalid_tenant' : 'invalid_request', 90002, `Tenant '${tenantRef}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`, correlationId);
    const tid = tenant ? tenant.id : '{tenant}';
    if (method === 'GET' && rest === 'v2.0/.well-known/openid-configuration') return { status: 200, json: this.openIdConfiguration(tid), tenantId: tenant?.id };
    if (method === 'GET' && (rest === 'discovery/v2.0/keys' || rest === 'discovery/keys')) return { status: 200, json: this.signer.jwks(), tenantId: tenant?.id };
    if (method === 'POST' && rest === 'oauth2/v2.0/token') {
      if (!tenant) return this.error(400, 'invalid_request', 50059, 'No tenant-identifying information found in either the request or implied by any provided credentials.', correlationId);
      const form = new URLSearchParams((await body()).toString('utf8'));
      for (const [k, v] of query) if (!form.has(k)) form.set(k, v);
      return { ...(await this.token(tenant, tenantRef, form, form.get('client-request-id') ?? correlationId)), tenantId: tenant.id };
    }
    return { status: 404 };
  }

  openIdConfiguration(tid: string): unknown {
    const o = this.deps.authorityOrigin();
    const g = new URL(this.deps.graphOrigin()).host;
    return {
      token_endpoint: `${o}/${tid}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${o}/${tid}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${o}/${tid === '{tenant}' ? '{tenantid}' : tid}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `https://${g}/oidc/userinfo`,
      authorization_endpoint: `${o}/${tid}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${o}/${tid}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${o}/${tid}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
      kerberos_endpoint: `${o}/${tid}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: new URL(o).hostname,
      cloud_graph_host_name: g,
      msgraph_host: g,
    };
  }

  private async token(tenant: Tenant, tenantRef: string, form: URLSearchParams, cid: string): Promise<IdentityResult> {
    const grant = form.get('grant_type');
    if (grant === null) return this.error(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.", cid);
    if (grant !== 'client_credentials') return this.error(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.', cid);
    const clientId = form.get('client_id');
    if (clientId === null || clientId === '') return this.error(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.", cid);
    const app = tenant.apps.get(clientId);
    if (!app) {
      return this.error(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`, cid);
    }
    const authError = this.authenticate(tenant, tenantRef, app, form, cid);
    if (authError) return { ...authError, clientId };
    const scopes = (form.get('scope') ?? '').split(' ').filter((s) => s !== '' && !OIDC_SCOPES.has(s));
    if (scopes.length === 0) return this.error(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.", cid);
    const scope = scopes[0]!;
    if (scopes.length > 1 || !scope.endsWith('/.default')) {
      return this.error(400, 'invalid_scope', 1002012, `The provided value for scope ${scopes.join(' ')} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`, cid);
    }
    const resource = scope.slice(0, -'/.default'.length).replace(/\/$/, '');
    if (!this.deps.graphResources().includes(resource)) {
      return this.error(400, 'invalid_resource', 500011, `The resource principal named ${resource} was not found in the tenant named ${tenant.displayName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`, cid);
    }
    const now = Math.floor(Date.now() / 1000);
    const lifetime = this.deps.tokenLifetimeSeconds();
    const uti = randomUUID().replace(/-/g, '');
    this.live.add(uti);
    const iss = `https://sts.windows.net/${tenant.id}/`;
    const claims: Record<string, unknown> = {
      aud: resource,
      iss,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      app_displayname: app.displayName,
      appid: app.clientId,
      appidacr: form.has('client_secret') ? '1' : '2',
      idp: iss,
      idtyp: 'app',
      oid: app.servicePrincipalId,
      ...(app.roles.length > 0 ? { roles: [...app.roles] } : {}),
      sub: app.servicePrincipalId,
      tid: tenant.id,
      uti,
      ver: '1.0',
    };
    return { status: 200, clientId, json: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: this.signer.sign(claims) } };
  }

  private authenticate(tenant: Tenant, tenantRef: string, app: AppRegistration, form: URLSearchParams, cid: string): IdentityResult | undefined {
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret === null && assertion === null) return this.error(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", cid);
    if (secret !== null) {
      const match = app.secrets.find((s) => s.value === secret);
      if (!match) return this.error(401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`, cid);
      if (match.expires && match.expires.getTime() < Date.now()) {
        return this.error(401, 'invalid_client', 7000222, `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`, cid);
      }
      return undefined;
    }
    if (form.get('client_assertion_type') !== ASSERTION_TYPE) return this.error(400, 'invalid_request', 90014, "The required field 'client_assertion_type' is missing or not valid.", cid);
    const jwt = decodeJwt(assertion!);
    if (!jwt) return this.error(401, 'invalid_client', 50027, 'JWT token is invalid or malformed.', cid);
    const x5t = typeof jwt.header.x5t === 'string' ? Buffer.from(jwt.header.x5t, 'base64url') : undefined;
    const x5tS256 = typeof jwt.header['x5t#S256'] === 'string' ? Buffer.from(jwt.header['x5t#S256'], 'base64url') : undefined;
    const cert = app.certificates.map((pem) => certificateThumbprints(pem)).find((c) => (x5t && c.sha1.equals(x5t)) || (x5tS256 && c.sha256.equals(x5tS256)));
    if (!cert) {
      const tp = (x5tS256 ?? x5t ?? Buffer.alloc(0)).toString('hex').toUpperCase();
      return this.error(401, 'invalid_client', 700027, `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${tp}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'.]`, cid);
    }
    if (!verifyJwtSignature(jwt, cert.publicKey)) return this.error(401, 'invalid_client', 700027, 'Client assertion failed signature validation.', cid);
    const p = jwt.payload;
    if (p.iss !== app.clientId || p.sub !== app.clientId) return this.error(401, 'invalid_client', 700021, "Client assertion application identifier doesn't match 'client_id' parameter.", cid);
    const o = this.deps.authorityOrigin();
    const audiences = [tenantRef, tenant.id, tenant.domain].flatMap((t) => [`${o}/${t}/oauth2/v2.0/token`, `${o}/${t}/v2.0`]);
    if (typeof p.aud !== 'string' || !audiences.includes(p.aud)) return this.error(401, 'invalid_client', 700023, 'Client assertion audience claim does not match Realm issuer.', cid);
    const now = Date.now() / 1000;
    if (typeof p.exp !== 'number' || p.exp < now - 300 || (typeof p.nbf === 'number' && p.nbf > now + 300)) {
      return this.error(401, 'invalid_client', 700024, `Client assertion is not within its valid time range. Current time: ${new Date().toISOString()}.`, cid);
    }
    return undefined;
  }

  /** Verifies the bearer token of a Graph request: 401 InvalidAuthenticationToken when it is missing or not valid. */
  verifyAccessToken(authorization: string | undefined): AppToken {
    const fail = (message: string): GraphError =>
      new GraphError(401, 'InvalidAuthenticationToken', message, undefined, {
        'WWW-Authenticate': `Bearer realm="", authorization_uri="${this.deps.authorityOrigin()}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
      });
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) throw fail('Access token is empty.');
    const jwt = decodeJwt(m[1]!);
    if (!jwt) throw fail('IDX14100: JWT is not well formed, there are no dots (.).');
    if (jwt.header.kid !== this.signer.kid || !verifyJwtSignature(jwt, this.signer.publicKey)) throw fail('Access token validation failure.');
    const p = jwt.payload;
    if (typeof p.exp !== 'number' || p.exp * 1000 < Date.now() || typeof p.uti !== 'string' || !this.live.has(p.uti)) throw fail('Lifetime validation failed, the token is expired.');
    if (typeof p.aud !== 'string' || !this.deps.graphResources().includes(p.aud)) throw fail('Access token validation failure. Invalid audience.');
    const tenant = typeof p.tid === 'string' ? this.deps.findTenant(p.tid) : undefined;
    if (!tenant || typeof p.appid !== 'string') throw fail('Access token validation failure.');
    const roles = Array.isArray(p.roles) ? p.roles.filter((r): r is string => typeof r === 'string') : [];
    return { tenantId: tenant.id, clientId: p.appid, roles };
  }

  private error(status: number, error: string, code: number, message: string, correlationId: string): IdentityResult {
    const traceId = randomUUID();
    const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    return {
      status,
      json: {
        error,
        error_description: `AADSTS${code}: ${message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
        error_codes: [code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `${this.deps.authorityOrigin()}/error?code=${code}`,
      },
    };
  }
}
