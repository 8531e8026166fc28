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

/** Every user of the tenant with their OneDrive's id (a user without one has none, not an error). */
export async function listUsers(graph: GraphClient, signal?: AbortSignal): Promise<M365User[]> {
  const users: M365User[] = [];
  for await (const page of graph.pages<GraphUser>('/users?$select=id,userPrincipalName,displayName,mail,accountEnabled&$top=999', { what: 'list the users', signal })) {
    for (const u of page.items) {
      let driveId: string | null = null;
      try {
        driveId = (await graph.json<GraphDrive>(`/users/${encodeURIComponent(u.id)}/drive?$select=id`, { what: `read the OneDrive of ${u.userPrincipalName ?? u.id}`, owner: u.id, signal })).id;
      } catch (err) {
        if (!(err instanceof CloudError && err.code === 'M365_NOT_FOUND')) throw err;
      }
      users.push({ id: u.id, userPrincipalName: u.userPrincipalName ?? u.id, displayName: u.displayName ?? '', mail: u.mail ?? null, accountEnabled: u.accountEnabled ?? null, driveId });
    }
  }
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
