/**
 * JSON of Graph resources as v1.0 returns them (user, site, drive, driveItem), OData $select,
 * and collection paging with @odata.nextLink / $skiptoken.
 */
import type { Site, Tenant, User } from './directory.model.js';
import type { Drive, DriveItemRecord } from './drive.model.js';
import { badRequest } from './errors.js';

export type Json = Record<string, unknown>;

/** What serializers need from the running emulator. */
export interface ResourceContext {
  graphBaseUrl: string;
  downloadUrl(drive: Drive, item: DriveItemRecord): string;
}

const iso = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;

export function userJson(u: User): Json {
  const [given, ...rest] = u.displayName.split(' ');
  return {
    businessPhones: [],
    displayName: u.displayName,
    givenName: given ?? null,
    jobTitle: null,
    mail: u.mail ?? null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: rest.length > 0 ? rest.join(' ') : null,
    userPrincipalName: u.userPrincipalName,
    id: u.id,
  };
}

export function siteJson(s: Site, tenant: Tenant): Json {
  return {
    createdDateTime: iso(s.createdAt),
    description: '',
    id: s.id,
    lastModifiedDateTime: iso(s.createdAt),
    name: s.name || tenant.displayName,
    webUrl: s.webUrl,
    displayName: s.displayName,
    isPersonalSite: s.isPersonalSite,
    root: {},
    siteCollection: { hostName: new URL(s.webUrl).host },
  };
}

export function driveJson(d: Drive, tenant: Tenant): Json {
  const used = d.sizeOf(d.root);
  const total = 1024 ** 4;
  const owner =
    d.owner.kind === 'user'
      ? { user: { email: tenant.findUser(d.owner.id)?.mail, id: d.owner.id, displayName: tenant.findUser(d.owner.id)?.displayName } }
      : { group: { id: d.owner.id, displayName: d.owner.name } };
  return {
    createdDateTime: iso(d.createdAt),
    description: '',
    id: d.id,
    lastModifiedDateTime: iso(d.createdAt),
    name: d.name,
    webUrl: d.webUrl,
    driveType: d.driveType,
    createdBy: { user: { displayName: 'System Account' } },
    owner,
    quota: { deleted: 0, remaining: total - used, state: 'normal', total, used },
  };
}

export interface ItemJsonOptions {
  /** Delta omits cTag, parentReference.path, and for deleted items their name (OneDrive for Business). */
  delta?: boolean;
  /** Which hashes to report; OneDrive for Business and SharePoint report quickXorHash only. */
  hashes: ('quickXorHash' | 'sha1Hash' | 'sha256Hash')[];
}

export async function itemJson(ctx: ResourceContext, d: Drive, it: DriveItemRecord, opts: ItemJsonOptions): Promise<Json> {
  const deleted = it.deletedSeq !== undefined;
  const parentReference: Json = { driveType: d.driveType, driveId: d.id };
  if (it.parentId !== undefined) {
    const parent = d.items.get(it.parentId)!;
    parentReference.id = parent.id;
    if (!opts.delta) {
      parentReference.name = parent.kind === 'root' ? 'root' : parent.name;
      parentReference.path = `/drives/${d.id}/root:${parent.kind === 'root' ? '' : encodePath(d.pathOf(parent))}`;
    }
  }
  parentReference.siteId = d.siteId;
  const app = { application: { id: '00000000-0000-0000-0000-000000000000', displayName: 'Graph emulator' } };
  const j: Json = {};
  if (it.kind === 'file' && !deleted) j['@microsoft.graph.downloadUrl'] = ctx.downloadUrl(d, it);
  j.createdDateTime = iso(it.createdAt);
  j.eTag = `"{${it.eTagGuid}},${it.version}"`;
  j.id = it.id;
  j.lastModifiedDateTime = iso(it.modifiedAt);
  if (!(deleted && opts.delta)) j.name = it.kind === 'root' ? 'root' : it.name;
  j.webUrl = it.kind === 'root' ? d.webUrl : `${d.webUrl}${encodePath(d.pathOf(it))}`;
  if (!opts.delta) j.cTag = `"c:{${it.eTagGuid}},${it.contentVersion}"`;
  j.size = deleted ? 0 : d.sizeOf(it);
  j.createdBy = app;
  j.lastModifiedBy = app;
  j.parentReference = parentReference;
  j.fileSystemInfo = { createdDateTime: iso(it.fsCreatedAt), lastModifiedDateTime: iso(it.fsModifiedAt) };
  if (it.kind === 'file') {
    const file: Json = { mimeType: it.mimeType ?? 'application/octet-stream' };
    if (!deleted) {
      const h = await it.content!.getHashes();
      const hashes: Json = {};
      if (opts.hashes.includes('quickXorHash')) hashes.quickXorHash = h.quickXorBase64;
      if (opts.hashes.includes('sha1Hash')) hashes.sha1Hash = (await it.content!.getSha1Hex()).toUpperCase();
      if (opts.hashes.includes('sha256Hash')) hashes.sha256Hash = h.sha256Hex.toUpperCase();
      file.hashes = hashes;
    }
    j.file = file;
  } else {
    j.folder = { childCount: deleted ? 0 : it.children.size };
  }
  if (it.kind === 'root') j.root = {};
  if (deleted) j.deleted = { state: 'deleted' };
  return j;
}

function encodePath(p: string): string {
  return p
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

/** Applies $select (id always kept, instance annotations like @microsoft.graph.downloadUrl selectable by name). */
export function select(obj: Json, query: URLSearchParams): Json {
  const sel = query.get('$select') ?? query.get('select');
  if (sel === null || sel.trim() === '' || sel.trim() === '*') return obj;
  const wanted = new Set(
    sel
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) if (k === 'id' || wanted.has(k)) out[k] = v;
  return out;
}

/** $top within [1, max], or the default. */
export function pageSize(query: URLSearchParams, dflt: number, max: number): number {
  const top = query.get('$top') ?? query.get('top');
  if (top === null) return dflt;
  const n = Number(top);
  if (!Number.isInteger(n) || n < 1) throw badRequest(`Invalid page size specified: '${top}'. Must be between 1 and ${max} inclusive.`, 'Request_UnsupportedQuery');
  return Math.min(n, max);
}

/** A page of an ordered collection by $skiptoken (an opaque offset), with @odata.nextLink keeping the other query options. */
export function page<T>(all: T[], query: URLSearchParams, url: string, size: number): { items: T[]; nextLink?: string } {
  const skip = query.get('$skiptoken');
  let offset = 0;
  if (skip !== null) {
    const m = /^o(\d+)$/.exec(Buffer.from(skip, 'base64url').toString('utf8'));
    if (!m) throw badRequest('The $skiptoken is not valid.', 'invalidRequest');
    offset = Number(m[1]);
  }
  const items = all.slice(offset, offset + size);
  if (offset + size >= all.length) return { items };
  const next = new URLSearchParams(query);
  next.set('$skiptoken', Buffer.from(`o${offset + size}`).toString('base64url'));
  return { items, nextLink: `${url}?${next.toString()}` };
}
