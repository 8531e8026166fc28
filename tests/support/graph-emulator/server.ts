/**
 * The Microsoft Graph and identity-platform emulator: three HTTPS listeners on 127.0.0.1 with
 * certificates from the emulator's own CA, like the three hosts a real tenant involves:
 *   authority (login.microsoftonline.com)  discovery, token endpoint        see identity.ts
 *   Graph (graph.microsoft.com)            /v1.0 (configurable base path)   the route files
 *   files (<tenant>.sharepoint.com)        download URLs, upload URLs      see files-host.ts
 * Every Graph request goes through one pipeline: bearer token -> route -> owner (user/site) ->
 * counted in flight -> throttling rules -> application permission -> handler. Tests build and
 * change tenants through addTenant() and the Tenant/Drive objects, and read the traffic from
 * emu.traffic. Nothing listens beyond loopback.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { batchRoutes } from './batch.routes.js';
import { readAll } from './content.js';
import { Tenant } from './directory.model.js';
import { directoryRoutes } from './directory.routes.js';
import type { Drive, DriveItemRecord } from './drive.model.js';
import { DeltaSessions } from './drive-delta.js';
import { driveRoutes } from './drives.routes.js';
import { GraphError, type GraphResult, errorResult } from './errors.js';
import { FilesHost, send } from './files-host.js';
import type { EmulatorCore, EmulatorOptions, GraphInput, GraphRoute } from './graph-routes.js';
import { Identity } from './identity.js';
import { makeEmulatorTls } from './tls.js';
import { type DownloadFailure, type HostRole, type RequestRecord, type ThrottleRule, Traffic } from './traffic.js';
import { UploadSessions } from './upload-sessions.js';
import { mailRoutes } from './mail.routes.js';
import { MailUploads } from './mail-uploads.js';
import { pimRoutes } from './pim.routes.js';

/** The route files; mail, calendar and contacts routes (issue 14) are added to this list. */
const ROUTES: GraphRoute[] = [...batchRoutes, ...directoryRoutes, ...driveRoutes, ...mailRoutes, ...pimRoutes];

export interface GraphEmulatorOptions extends Partial<EmulatorOptions> {
  /** More resource identifiers accepted in scope {resource}/.default besides the emulator's Graph origin and https://graph.microsoft.com. */
  graphResources?: string[];
}

const DEFAULTS: EmulatorOptions = {
  graphBasePath: '/v1.0',
  hashes: ['quickXorHash'],
  deltaPageSize: 200,
  downloadUrlLifetimeMs: 10 * 60_000,
  uploadSessionLifetimeMs: 60 * 60_000,
  simpleUploadLimitBytes: 250 * 1024 * 1024,
  accessTokenLifetimeSeconds: 3599,
  rejectAuthorizationOnUploadUrl: true,
  mailboxConcurrency: 4,
  mailboxRetryAfterSeconds: 1,
};

export class GraphEmulator implements EmulatorCore {
  readonly traffic = new Traffic();
  readonly deltaSessions = new DeltaSessions();
  readonly uploadSessions: UploadSessions;
  readonly mailUploads: MailUploads;
  readonly identity: Identity;
  readonly options: EmulatorOptions;
  private readonly tenants: Tenant[] = [];
  private readonly files: FilesHost;
  private readonly servers: https.Server[] = [];
  private readonly origins: Record<HostRole, string> = { login: '', graph: '', files: '' };

  private constructor(
    readonly caPem: string,
    options: GraphEmulatorOptions,
  ) {
    this.options = { ...DEFAULTS, ...options, graphBasePath: (options.graphBasePath ?? DEFAULTS.graphBasePath).replace(/\/$/, '') };
    const extraResources = options.graphResources ?? [];
    this.identity = new Identity({
      authorityOrigin: () => this.origins.login,
      graphOrigin: () => this.origins.graph,
      graphResources: () => [this.origins.graph, 'https://graph.microsoft.com', ...extraResources],
      findTenant: (ref) => this.findTenant(ref),
      tokenLifetimeSeconds: () => this.options.accessTokenLifetimeSeconds,
    });
    this.uploadSessions = new UploadSessions(this);
    this.mailUploads = new MailUploads(() => this.origins.files);
    this.files = new FilesHost({
      origin: () => this.origins.files,
      findTenant: (id) => this.findTenant(id),
      traffic: this.traffic,
      uploadSessions: this.uploadSessions,
      mailUploads: this.mailUploads,
      downloadUrlLifetimeMs: () => this.options.downloadUrlLifetimeMs,
      rejectAuthorizationOnUploadUrl: () => this.options.rejectAuthorizationOnUploadUrl,
    });
  }

  static async start(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
    const tls = await makeEmulatorTls();
    const emu = new GraphEmulator(tls.caPem, options);
    for (const role of ['login', 'graph', 'files'] as const) {
      const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
        emu.onRequest(role, req, res).catch((err: unknown) => {
          if (!res.headersSent) send(res, { status: 500, json: { error: { code: 'generalException', message: String(err) } } });
          else res.destroy();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      emu.servers.push(server);
      emu.origins[role] = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
    return emu;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  // --- where clients point ---------------------------------------------------------------

  /** The tenant's "authority host" setting: https://127.0.0.1:<port> (MSAL authority = `${authorityHost}/${tenantId}`). */
  get authorityHost(): string {
    return this.origins.login;
  }

  /** The tenant's "Graph URL" setting: https://127.0.0.1:<port>/v1.0. */
  get graphBaseUrl(): string {
    return this.origins.graph + this.options.graphBasePath;
  }

  /** The Graph resource identifier: scope `${graphOrigin}/.default`. */
  get graphOrigin(): string {
    return this.origins.graph;
  }

  get filesOrigin(): string {
    return this.origins.files;
  }

  // --- controls ----------------------------------------------------------------------------

  addTenant(opts: { id?: string; domain: string; displayName?: string }): Tenant {
    const t = new Tenant(opts.id ?? randomUUID(), opts.domain, opts.displayName ?? opts.domain.split('.')[0]!);
    this.tenants.push(t);
    return t;
  }

  findTenant(idOrDomain: string): Tenant | undefined {
    const lower = idOrDomain.toLowerCase();
    return this.tenants.find((t) => t.id === lower || t.domain.toLowerCase() === lower);
  }

  /** The next rule.count matching requests answer 429 (or 503) with Retry-After. */
  throttle(rule: ThrottleRule): void {
    this.traffic.throttle(rule);
  }

  failDownload(drive: Drive, item: DriveItemRecord, how: Omit<DownloadFailure, 'driveId' | 'itemId'> = {}): void {
    this.traffic.failDownload({ ...how, driveId: drive.id, itemId: item.id });
  }
  /** Downloads answer normally again. */
  clearDownloadFailures(): void {
    this.traffic.clearDownloadFailures();
  }


  /** Every access token issued so far is refused from now on (401, expired). */
  expireAccessTokens(): void {
    this.identity.expireAccessTokens();
  }

  downloadUrl(drive: Drive, item: DriveItemRecord): string {
    return this.files.downloadUrl(drive, item);
  }

  // --- request handling ----------------------------------------------------------------------

  private async onRequest(role: HostRole, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origins[role]);
    const rec = this.traffic.begin({ host: role, method: req.method ?? 'GET', path: url.pathname, query: url.search });
    let leave = (): void => {};
    res.once('close', () => {
      leave();
      this.traffic.finish(rec, res.statusCode);
    });
    const headers = lowerHeaders(req);
    if (role === 'login') {
      const r = await this.identity.handle(rec.method, url.pathname, url.searchParams, headers, () => readAll(req, 1024 * 1024));
      rec.tenantId = r.tenantId;
      rec.clientId = r.clientId;
      return send(res, { status: r.status, json: r.json ?? { error: 'not_found' }, headers: { 'Cache-Control': 'no-store, no-cache' } });
    }
    if (role === 'files') {
      this.files.identify(req, url, rec);
      leave = this.traffic.enter(rec);
      const t = this.traffic.takeThrottle(rec);
      if (t) return send(res, throttled(t.status, t.retryAfterSeconds));
      return this.files.handle(req, res, url, rec);
    }
    const base = this.options.graphBasePath;
    if (!url.pathname.startsWith(base + '/')) return send(res, errorResult(new GraphError(404, 'BadRequest', `Unknown API version or path: ${url.pathname}`)));
    const input: GraphInput = { method: rec.method, path: url.pathname.slice(base.length), query: url.searchParams, headers, body: () => readAll(req, Math.max(64 * 1024 * 1024, this.options.simpleUploadLimitBytes + 1)) };
    const result = await this.pipeline(input, rec, (l) => (leave = l));
    send(res, result);
  }

  /** A $batch sub-request: recorded on its own, through the same pipeline. */
  async dispatchGraph(input: GraphInput): Promise<GraphResult> {
    const query = input.query.toString();
    const rec = this.traffic.begin({ host: 'graph', method: input.method, path: this.options.graphBasePath + input.path, query: query === '' ? '' : `?${query}`, batchOf: input.batchOf });
    let leave = (): void => {};
    try {
      const r = await this.pipeline(input, rec, (l) => (leave = l));
      this.traffic.finish(rec, r.status);
      return r;
    } finally {
      leave();
    }
  }

  private async pipeline(input: GraphInput, rec: RequestRecord, setLeave: (leave: () => void) => void): Promise<GraphResult> {
    const clientRequestId = input.headers['client-request-id'];
    try {
      const token = this.identity.verifyAccessToken(input.headers.authorization);
      rec.tenantId = token.tenantId;
      rec.clientId = token.clientId;
      const tenant = this.findTenant(token.tenantId)!;
      let found: { route: GraphRoute; m: RegExpExecArray } | undefined;
      for (const route of ROUTES) {
        const m = route.pattern.exec(input.path);
        if (m && route.methods.includes(input.method)) {
          found = { route, m };
          break;
        }
      }
      if (!found) throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${input.path.split('/')[1] ?? ''}'.`);
      const { route, m } = found;
      rec.owner = route.owner?.(m, tenant);
      if (!route.envelope) {
        setLeave(this.traffic.enter(rec));
        const t = this.traffic.takeThrottle(rec);
        if (t) return throttled(t.status, t.retryAfterSeconds);
        if (route.mailbox && this.traffic.inFlightOf(rec) > this.options.mailboxConcurrency) {
          rec.throttled = true;
          rec.note = 'over the mailbox concurrency limit';
          this.traffic.fenceOwner(rec, this.options.mailboxRetryAfterSeconds);
          return mailboxThrottled(this.options.mailboxRetryAfterSeconds);
        }
      }
      const need = route.roles(input.method);
      if (need.length > 0 && !need.some((r) => token.roles.includes(r))) {
        rec.note = `missing application permission: one of ${need.join(', ')}`;
        if (route.denial === 'outlook') throw new GraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
        if (route.denial === 'directory') throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
        throw new GraphError(403, 'accessDenied', token.roles.length === 0 ? 'Either scp or roles claim need to be present in the token.' : 'Access denied');
      }
      return await route.handle(m, { ...input, emu: this, tenant, token, record: rec, url: this.graphBaseUrl + input.path });
    } catch (err) {
      if (err instanceof GraphError) return errorResult(err, clientRequestId);
      if (err instanceof URIError) return errorResult(new GraphError(400, 'BadRequest', 'Malformed percent-encoding in the URL.'), clientRequestId);
      throw err;
    }
  }
}

/** Throttling as documented: 429 with Retry-After (seconds) and error TooManyRequests; 503 serviceNotAvailable. */
function throttled(status: number, retryAfterSeconds: number): GraphResult {
  const requestId = randomUUID();
  const date = new Date().toISOString().replace(/\.\d+Z$/, '');
  const error =
    status === 429
      ? { code: 'TooManyRequests', message: 'Please retry again later.', innerError: { code: '429', date, message: 'Please retry after', 'request-id': requestId, status: '429' } }
      : { code: 'serviceNotAvailable', message: 'The service is not available. Try the request again after a delay.', innerError: { date, 'request-id': requestId } };
  return { status, headers: { 'Retry-After': String(retryAfterSeconds), 'request-id': requestId }, json: { error } };
}

/** Exchange's per-mailbox concurrency limit (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits). */
function mailboxThrottled(retryAfterSeconds: number): GraphResult {
  const requestId = randomUUID();
  const date = new Date().toISOString().replace(/\.\d+Z$/, '');
  return {
    status: 429,
    headers: { 'Retry-After': String(retryAfterSeconds), 'request-id': requestId },
    json: { error: { code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.', innerError: { date, 'request-id': requestId, 'client-request-id': requestId } } },
  };
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
