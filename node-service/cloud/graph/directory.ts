import { CloudError } from './cloud-errors.js';
import type { GraphClient } from './graph-client.js';

export interface M365User {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string | null;
  accountEnabled: boolean | null;
  /** The user's OneDrive (null: the user has none). */
  driveId: string | null;
  /** An Exchange Online mailbox; null: it could not be found out (the warning says why). */
  hasMailbox: boolean | null;
}

export interface M365Library {
  id: string;
  name: string;
  webUrl: string | null;
}

export interface M365Site {
  id: string;
  name: string;
  displayName: string;
  webUrl: string | null;
  libraries: M365Library[];
}

interface GraphUser {
  id: string;
  userPrincipalName?: string;
  displayName?: string;
  mail?: string | null;
  accountEnabled?: boolean;
}
interface GraphDrive {
  id: string;
  name?: string;
  webUrl?: string;
  driveType?: string;
}
interface GraphSite {
  id: string;
  name?: string;
  displayName?: string;
  webUrl?: string;
  isPersonalSite?: boolean;
}

/**
 * Every user of the tenant with their OneDrive's id (a user without one has none, not an
 * error) and whether they have a mailbox. Graph's user has no such property: one mail folder
 * is asked for, and 404 MailboxNotEnabledForRESTAPI means none. When the app may not read
 * mail (or a probe fails otherwise) the users' mailboxes are unknown (null) and `warn` is told
 * once, so the sync says why rather than reporting nobody has a mailbox.
 */
export async function listUsers(graph: GraphClient, signal?: AbortSignal, warn: (warning: string) => void = () => undefined): Promise<M365User[]> {
  const users: M365User[] = [];
  let mailUnreadable: CloudError | null = null;
  let probeFailures = 0;
  for await (const page of graph.pages<GraphUser>('/users?$select=id,userPrincipalName,displayName,mail,accountEnabled&$top=999', { what: 'list the users', signal })) {
    for (const u of page.items) {
      const name = u.userPrincipalName ?? u.id;
      let driveId: string | null = null;
      try {
        driveId = (await graph.json<GraphDrive>(`/users/${encodeURIComponent(u.id)}/drive?$select=id`, { what: `read the OneDrive of ${name}`, owner: u.id, signal })).id;
      } catch (err) {
        if (!(err instanceof CloudError && err.code === 'M365_NOT_FOUND')) throw err;
      }
      let hasMailbox: boolean | null = null;
      // Once mail is known to be unreadable, asking for every other user would only fail the same way.
      if (mailUnreadable === null) {
        try {
          await graph.json(`/users/${encodeURIComponent(u.id)}/mailFolders?$top=1&$select=id`, { what: `read the mail folders of ${name}`, owner: u.id, signal });
          hasMailbox = true;
        } catch (err) {
          if (!(err instanceof CloudError) || err.code === 'M365_AUTH_FAILED' || err.code === 'M365_CANCELLED') throw err;
          if (err.code === 'M365_NO_MAILBOX') hasMailbox = false;
          else if (err.code === 'M365_PERMISSION_MISSING') mailUnreadable = err;
          else probeFailures++;
        }
      }
      users.push({ id: u.id, userPrincipalName: name, displayName: u.displayName ?? '', mail: u.mail ?? null, accountEnabled: u.accountEnabled ?? null, driveId, hasMailbox });
    }
  }
  if (mailUnreadable) warn(`whether the users have a mailbox is unknown (their mail, calendars and contacts are not backed up): ${mailUnreadable.message}; grant Mail.ReadWrite, Calendars.ReadWrite and Contacts.ReadWrite`);
  else if (probeFailures > 0) warn(`whether ${probeFailures} ${probeFailures === 1 ? 'user has' : 'users have'} a mailbox is unknown: Graph failed to answer; the next sync asks again`);
  return users;
}

/** SharePoint sites (not personal OneDrive sites) with their document libraries. */
export async function listSites(graph: GraphClient, signal?: AbortSignal): Promise<M365Site[]> {
  const sites: M365Site[] = [];
  for await (const page of graph.pages<GraphSite>('/sites/getAllSites?$select=id,name,displayName,webUrl,isPersonalSite&$top=200', { what: 'list the SharePoint sites', signal })) {
    for (const s of page.items) {
      if (s.isPersonalSite) continue;
      const libraries: M365Library[] = [];
      for await (const drives of graph.pages<GraphDrive>(`/sites/${encodeURIComponent(s.id)}/drives?$select=id,name,webUrl,driveType`, { what: `list the libraries of site ${s.displayName ?? s.id}`, owner: s.id, signal })) {
        for (const d of drives.items) if (d.driveType === undefined || d.driveType === 'documentLibrary') libraries.push({ id: d.id, name: d.name ?? d.id, webUrl: d.webUrl ?? null });
      }
      sites.push({ id: s.id, name: s.name ?? s.id, displayName: s.displayName ?? s.name ?? s.id, webUrl: s.webUrl ?? null, libraries });
    }
  }
  return sites;
}
