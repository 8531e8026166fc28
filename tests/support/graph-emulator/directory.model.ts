/**
 * A tenant as the emulator holds it: its app registrations (credentials and the application
 * permissions an admin consented to), users (with or without a OneDrive), SharePoint sites
 * with their document libraries, and every drive by id. Mail, calendars and contacts (issue 14)
 * hang their stores off the User in their own model files.
 */
import { randomUUID } from 'node:crypto';
import { Drive, guidFrom } from './drive.model.js';
import { Mailbox } from './mailbox.model.js';

/** Application permissions the Graph routes check (roles claim of an app-only token). */
export const ALL_FILE_ROLES = ['User.Read.All', 'Files.ReadWrite.All', 'Sites.ReadWrite.All'];
/** The default roles of an app: files, and mail, calendars and contacts (issue 14). */
export const ALL_ROLES = [...ALL_FILE_ROLES, 'Mail.ReadWrite', 'Calendars.ReadWrite', 'Contacts.ReadWrite'];

export interface AppSecret {
  value: string;
  /** Secrets past this date fail with AADSTS7000222. */
  expires?: Date;
}

export interface AppRegistration {
  clientId: string;
  displayName: string;
  servicePrincipalId: string;
  secrets: AppSecret[];
  /** PEM certificates whose private keys may sign client assertions. */
  certificates: string[];
  /** Consented application permissions, e.g. 'Files.Read.All'. Changing them affects tokens issued afterwards. */
  roles: string[];
}

export interface AddAppOptions {
  clientId?: string;
  displayName?: string;
  secret?: string;
  secrets?: AppSecret[];
  certificates?: string[];
  roles?: string[];
}

export interface AddUserOptions {
  userPrincipalName: string;
  displayName?: string;
  id?: string;
  /** false: no OneDrive (unlicensed, or never provisioned): /users/{id}/drive answers 404 "User's mysite not found." */
  drive?: boolean;
  mail?: string;
  /** false: no Exchange Online mailbox: /users/{id}/mailFolders etc. answer 404 MailboxNotEnabledForRESTAPI. */
  mailbox?: boolean;
}

export interface AddSiteOptions {
  /** The site's URL name, e.g. 'finance' for /sites/finance. */
  name: string;
  displayName?: string;
  /** Document libraries; the first is the site's default drive. Defaults to ['Documents']. */
  libraries?: string[];
}

export class User {
  drive: Drive | undefined;
  mailbox: Mailbox | undefined;
  personalSite: Site | undefined;
  readonly createdAt = new Date();
  constructor(
    readonly id: string,
    readonly userPrincipalName: string,
    public displayName: string,
    public mail: string | undefined,
  ) {}
}

export class Site {
  readonly drives: Drive[] = [];
  readonly createdAt = new Date();
  constructor(
    readonly id: string,
    readonly name: string,
    public displayName: string,
    readonly webUrl: string,
    readonly isPersonalSite: boolean,
  ) {}

  library(name: string): Drive {
    const d = this.drives.find((x) => x.name === name);
    if (!d) throw new Error(`site ${this.name} has no library ${name}`);
    return d;
  }
}

export class Tenant {
  readonly apps = new Map<string, AppRegistration>();
  readonly users: User[] = [];
  readonly sites: Site[] = [];
  readonly drives = new Map<string, Drive>();
  readonly spHost: string;
  readonly myHost: string;
  readonly rootSite: Site;

  constructor(
    readonly id: string,
    /** The initial domain, e.g. contoso.onmicrosoft.com; also accepted as the tenant in authority URLs. */
    readonly domain: string,
    readonly displayName: string,
  ) {
    const prefix = domain.split('.')[0]!;
    this.spHost = `${prefix}.sharepoint.com`;
    this.myHost = `${prefix}-my.sharepoint.com`;
    this.rootSite = this.newSite('', displayName, `https://${this.spHost}`, false, ['Documents']);
  }

  addApp(opts: AddAppOptions = {}): AppRegistration {
    const clientId = opts.clientId ?? randomUUID();
    const app: AppRegistration = {
      clientId,
      displayName: opts.displayName ?? 'vPlus backup',
      servicePrincipalId: guidFrom(`sp:${this.id}:${clientId}`),
      secrets: [...(opts.secrets ?? []), ...(opts.secret !== undefined ? [{ value: opts.secret }] : [])],
      certificates: opts.certificates ?? [],
      roles: opts.roles ?? [...ALL_ROLES],
    };
    this.apps.set(clientId, app);
    return app;
  }

  addUser(opts: AddUserOptions): User {
    const upn = opts.userPrincipalName;
    if (this.findUser(upn)) throw new Error(`user ${upn} exists`);
    const user = new User(opts.id ?? randomUUID(), upn, opts.displayName ?? upn.split('@')[0]!, opts.mail ?? upn);
    this.users.push(user);
    if (opts.mailbox !== false) user.mailbox = new Mailbox({ id: user.id, upn, displayName: user.displayName, mail: user.mail ?? upn });
    if (opts.drive !== false) {
      const personal = upn.replace(/[@.]/g, '_').toLowerCase();
      const site = this.newSite(`personal/${personal}`, user.displayName, `https://${this.myHost}/personal/${personal}`, true, []);
      user.personalSite = site;
      user.drive = this.newDrive(site, 'OneDrive', 'business', { kind: 'user', id: user.id, name: upn }, `${site.webUrl}/Documents`);
    }
    return user;
  }

  /** Deletes a user: /users no longer lists them (their drive stays reachable by id, as a deleted user's OneDrive is kept for a while). */
  removeUser(idOrUpn: string): void {
    this.users.splice(this.users.indexOf(this.user(idOrUpn)), 1);
  }

  addSite(opts: AddSiteOptions): Site {
    const site = this.newSite(`sites/${opts.name}`, opts.displayName ?? opts.name, `https://${this.spHost}/sites/${opts.name}`, false, opts.libraries ?? ['Documents']);
    return site;
  }

  /** By object id or user principal name (case-insensitive), as /users/{id | userPrincipalName} takes it. */
  findUser(idOrUpn: string): User | undefined {
    const lower = idOrUpn.toLowerCase();
    return this.users.find((u) => u.id === idOrUpn || u.userPrincipalName.toLowerCase() === lower);
  }

  user(idOrUpn: string): User {
    const u = this.findUser(idOrUpn);
    if (!u) throw new Error(`no user ${idOrUpn}`);
    return u;
  }

  /** The drive of a user (by id or UPN), for tests. */
  driveOf(idOrUpn: string): Drive {
    const d = this.user(idOrUpn).drive;
    if (!d) throw new Error(`${idOrUpn} has no OneDrive`);
    return d;
  }

  /** The mailbox of a user (by id or UPN), for tests. */
  mailboxOf(idOrUpn: string): Mailbox {
    const m = this.user(idOrUpn).mailbox;
    if (!m) throw new Error(`${idOrUpn} has no mailbox`);
    return m;
  }

  /** By full id (host,siteGuid,webGuid), by 'root', or by server-relative path 'host:/sites/x'. */
  findSite(ref: string): Site | undefined {
    if (ref === 'root') return this.rootSite;
    const all = [this.rootSite, ...this.sites, ...this.users.flatMap((u) => (u.personalSite ? [u.personalSite] : []))];
    const byId = all.find((s) => s.id === ref);
    if (byId) return byId;
    const m = /^([^:]+):(\/.*?)?:?$/.exec(ref);
    if (m) return all.find((s) => new URL(s.webUrl).host === m[1] && new URL(s.webUrl).pathname.replace(/\/$/, '') === (m[2] ?? '').replace(/\/$/, ''));
    return undefined;
  }

  site(name: string): Site {
    const s = this.sites.find((x) => x.name === name);
    if (!s) throw new Error(`no site ${name}`);
    return s;
  }

  private newSite(path: string, displayName: string, webUrl: string, personal: boolean, libraries: string[]): Site {
    const host = new URL(webUrl).host;
    const siteGuid = guidFrom(`site:${this.id}:${host}:${path}`);
    const webGuid = guidFrom(`web:${this.id}:${host}:${path}`);
    const site = new Site(`${host},${siteGuid},${webGuid}`, path.split('/').pop() ?? '', displayName, webUrl, personal);
    libraries.forEach((lib) => this.newDrive(site, lib, 'documentLibrary', { kind: 'site', id: site.id, name: site.name || 'root' }, `${webUrl}/${lib === 'Documents' ? 'Shared Documents' : lib}`));
    if (path !== '' && !personal) this.sites.push(site);
    return site;
  }

  private newDrive(site: Site, name: string, type: 'business' | 'documentLibrary', owner: Drive['owner'], webUrl: string): Drive {
    const drive = new Drive(Drive.newId(), name, type, owner, this.id, webUrl, site.id);
    site.drives.push(drive);
    this.drives.set(drive.id, drive);
    return drive;
  }
}
