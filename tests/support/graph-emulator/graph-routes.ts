/**
 * How a group of Graph endpoints plugs into the emulator: a GraphRoute matches a path under the
 * base path (e.g. /v1.0), names the application permissions that allow it and the user or site
 * whose data it touches, and answers with a GraphResult. The drive and directory routes are
 * here in part 1; mail, calendars and contacts (issue 14) add their own route files and list
 * them in server.ts.
 */
import type { Drive } from './drive.model.js';
import type { Tenant } from './directory.model.js';
import type { DriveOwnerRef } from './drive.model.js';
import type { GraphResult } from './errors.js';
import type { DeltaSessions } from './drive-delta.js';
import type { MailUploads } from './mail-uploads.js';
import type { ResourceContext } from './resources.js';
import type { RequestRecord, Traffic } from './traffic.js';
import type { UploadSessions } from './upload-sessions.js';

/** Claims of a verified app-only access token. */
export interface AppToken {
  tenantId: string;
  clientId: string;
  roles: string[];
}

export interface EmulatorOptions {
  /** Graph's base path on its host, e.g. '/v1.0' (default) or '/graph/v1.0' behind a proxy. */
  graphBasePath: string;
  /** Hashes reported in file.hashes: OneDrive for Business and SharePoint report quickXorHash only. */
  hashes: ('quickXorHash' | 'sha1Hash' | 'sha256Hash')[];
  /** Delta page size when no $top is given. */
  deltaPageSize: number;
  /** How long @microsoft.graph.downloadUrl links work ("a few minutes"). */
  downloadUrlLifetimeMs: number;
  uploadSessionLifetimeMs: number;
  /** Largest simple upload (PUT .../content): 250 MB in the current v1.0 documentation (it once said 4 MB). */
  simpleUploadLimitBytes: number;
  accessTokenLifetimeSeconds: number;
  /** The documentation warns a PUT to an uploadUrl with an Authorization header may fail with 401; the emulator makes it fail. */
  rejectAuthorizationOnUploadUrl: boolean;
  /** Exchange Online's limit of concurrent requests per app per mailbox (4); more answer 429 ApplicationThrottled. */
  mailboxConcurrency: number;
  /** Retry-After (seconds) of that 429. */
  mailboxRetryAfterSeconds: number;
}

/** What routes may use of the running emulator. */
export interface EmulatorCore extends ResourceContext {
  readonly options: EmulatorOptions;
  readonly traffic: Traffic;
  readonly filesOrigin: string;
  readonly deltaSessions: DeltaSessions;
  readonly uploadSessions: UploadSessions;
  readonly mailUploads: MailUploads;
  /** Runs a request through the whole Graph pipeline (auth, throttling, permissions, routing): for $batch. */
  dispatchGraph(input: GraphInput): Promise<GraphResult>;
}

export interface GraphInput {
  method: string;
  /** Path under the base path, percent-encoded, e.g. /users/x/drive/root:/a%20b.txt:/content */
  path: string;
  query: URLSearchParams;
  /** Lower-case names. */
  headers: Record<string, string>;
  body(): Promise<Buffer>;
  batchOf?: number;
}

export interface GraphContext extends GraphInput {
  emu: EmulatorCore;
  tenant: Tenant;
  token: AppToken;
  record: RequestRecord;
  /** The absolute URL of this request's path, without query: for nextLink/deltaLink. */
  url: string;
}

export interface GraphRoute {
  methods: string[];
  pattern: RegExp;
  /** Application permissions any one of which allows the call. */
  roles(method: string): string[];
  /** How Graph refuses a token without them: directory endpoints and SharePoint/OneDrive ones differ. */
  denial: 'directory' | 'sharepoint' | 'outlook';
  /** An Outlook (Exchange) call: counted against the mailbox concurrency limit. */
  mailbox?: boolean;
  owner?(m: RegExpExecArray, tenant: Tenant): DriveOwnerRef | undefined;
  /** An envelope ($batch): neither counted in flight nor throttled itself; its sub-requests are. */
  envelope?: boolean;
  handle(m: RegExpExecArray, ctx: GraphContext): Promise<GraphResult>;
}

const WITH_FULL = (roles: string[]): string[] => [...roles, 'Sites.FullControl.All'];
export const ROLES = {
  readUsers: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  readFiles: WITH_FULL(['Files.Read.All', 'Files.ReadWrite.All', 'Sites.Read.All', 'Sites.ReadWrite.All']),
  writeFiles: WITH_FULL(['Files.ReadWrite.All', 'Sites.ReadWrite.All']),
  readSites: WITH_FULL(['Sites.Read.All', 'Sites.ReadWrite.All']),
  readMail: ['Mail.Read', 'Mail.ReadWrite'],
  writeMail: ['Mail.ReadWrite'],
  readCalendars: ['Calendars.Read', 'Calendars.ReadWrite'],
  readContacts: ['Contacts.Read', 'Contacts.ReadWrite'],
};

export function ownerOfDrive(d: Drive | undefined): DriveOwnerRef | undefined {
  return d?.owner;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): GraphResult {
  return { status, json: body, headers };
}

/** Decodes each segment of a percent-encoded path; names may hold any Unicode. */
export function decodePath(p: string): string {
  return p
    .split('/')
    .map((s) => decodeURIComponent(s))
    .join('/');
}
