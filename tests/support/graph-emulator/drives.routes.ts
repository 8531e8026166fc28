/**
 * Everything under a drive, addressed as /drives/{id}, /users/{id}/drive or /sites/{id}/drive:
 *   GET  {drive}                                  the drive
 *   GET  {item}, {item}/children                  an item; its children (paged, $top, $select)
 *   GET  {drive}/root/delta                       see drive-delta.ts
 *   GET  {item}/content                           302 to the item's pre-authenticated download URL
 *   PUT  {item}/content, {parent}:/{name}:/content simple upload (up to 250 MB, configurable)
 *   POST {item}/createUploadSession, {parent}:/{name}:/createUploadSession
 *   POST {item}/children                          new folder, @microsoft.graph.conflictBehavior fail|replace|rename
 *   PATCH {item}                                  rename, move (parentReference), fileSystemInfo
 *   DELETE {item}
 * where {item} is root, items/{id}, root:/{path}: or items/{id}:/{path}:.
 */
import { Content } from './content.js';
import type { Tenant } from './directory.model.js';
import type { ConflictBehavior, Drive, DriveItemRecord, FsInfo } from './drive.model.js';
import { handleDelta, deltaTokenOf } from './drive-delta.js';
import { mysiteNotFound, userNotFound } from './directory.routes.js';
import { GraphError, badRequest, nameConflict, notFound } from './errors.js';
import { ROLES, type GraphContext, type GraphRoute, decodePath, json } from './graph-routes.js';
import { driveJson, itemJson, page, pageSize, select } from './resources.js';

const PREFIX = /^\/(?:drives\/([^/]+)|users\/([^/]+)\/drive|sites\/([^/]+)\/drive)(?=\/|$)(.*)$/;

function driveOf(m: RegExpExecArray, tenant: Tenant, strict: boolean): Drive | undefined {
  if (m[1] !== undefined) {
    const d = tenant.drives.get(decodeURIComponent(m[1]));
    if (!d && strict) throw notFound('The drive could not be found.');
    return d;
  }
  if (m[2] !== undefined) {
    const u = tenant.findUser(decodeURIComponent(m[2]));
    if (!u) {
      if (strict) throw userNotFound(decodeURIComponent(m[2]));
      return undefined;
    }
    if (!u.drive && strict) throw mysiteNotFound();
    return u.drive;
  }
  const site = tenant.findSite(decodeURIComponent(m[3]!));
  if (!site && strict) throw new GraphError(404, 'itemNotFound', 'Requested site could not be found');
  return site?.drives[0];
}

interface Addressed {
  /** The item the URL names, if it exists. */
  item?: DriveItemRecord;
  /** For a path that does not exist yet: its parent and last name (upload targets). */
  parent?: DriveItemRecord;
  name?: string;
  action: string;
  /** The part of the path up to the item, for nextLink/deltaLink. */
  itemPath: string;
}

function address(drive: Drive, rest: string): Addressed | undefined {
  const m = /^\/(root|items\/([^/:]+))(.*)$/.exec(rest);
  if (!m) return undefined;
  const base = m[1] === 'root' ? drive.root : drive.item(decodeURIComponent(m[2]!));
  if (!base) throw notFound();
  let tail = m[3]!;
  let itemPath = rest.slice(0, rest.length - tail.length);
  if (!tail.startsWith(':')) return { item: base, action: tail, itemPath };
  const close = tail.indexOf(':', 1);
  const rawPath = close === -1 ? tail.slice(1) : tail.slice(1, close);
  itemPath += close === -1 ? tail : tail.slice(0, close + 1);
  tail = close === -1 ? '' : tail.slice(close + 1);
  const segments = decodePath(rawPath)
    .split('/')
    .filter((s) => s !== '');
  const item = drive.itemByPath(segments.join('/'), base);
  if (item) return { item, action: tail, itemPath };
  const name = segments.pop();
  const parent = drive.itemByPath(segments.join('/'), base);
  return { ...(parent && parent.kind !== 'file' && name !== undefined ? { parent, name } : {}), action: tail, itemPath };
}

function conflictOf(v: unknown, dflt: ConflictBehavior): ConflictBehavior {
  if (v === undefined || v === null) return dflt;
  if (v === 'fail' || v === 'replace' || v === 'rename') return v;
  throw badRequest(`Invalid value for @microsoft.graph.conflictBehavior: ${JSON.stringify(v)}.`);
}

function checkIfMatch(ctx: GraphContext, it: DriveItemRecord): void {
  const want = ctx.headers['if-match'];
  if (want === undefined || want === '*') return;
  const etag = `"{${it.eTagGuid}},${it.version}"`;
  const ctag = `"c:{${it.eTagGuid}},${it.contentVersion}"`;
  if (want !== etag && want !== ctag) throw new GraphError(412, 'resourceModified', 'ETag does not match the current item\'s value.', 'entityTagDoesNotMatch');
}

async function bodyJson(ctx: GraphContext): Promise<Record<string, unknown>> {
  const raw = await ctx.body();
  try {
    const v = JSON.parse(raw.length === 0 ? '{}' : raw.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw badRequest('The request body is not a JSON object.', 'BadRequest');
}

function fsInfoOf(v: unknown): FsInfo {
  if (typeof v !== 'object' || v === null) return {};
  const o = v as Record<string, unknown>;
  const date = (x: unknown, k: string): Date | undefined => {
    if (x === undefined) return undefined;
    const d = typeof x === 'string' ? new Date(x) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw badRequest(`Invalid ${k}.`);
    return d;
  };
  return { createdDateTime: date(o.createdDateTime, 'createdDateTime'), lastModifiedDateTime: date(o.lastModifiedDateTime, 'lastModifiedDateTime') };
}

async function itemResult(ctx: GraphContext, d: Drive, it: DriveItemRecord, status = 200): Promise<ReturnType<typeof json>> {
  return json(status, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#driveItem/$entity`, ...select(await itemJson(ctx.emu, d, it, { hashes: ctx.emu.options.hashes }), ctx.query) });
}

async function handleDrive(m: RegExpExecArray, ctx: GraphContext): Promise<ReturnType<typeof json>> {
  const drive = driveOf(m, ctx.tenant, true)!;
  ctx.record.driveId = drive.id;
  const rest = m[4]!;
  const prefixUrl = ctx.url.slice(0, ctx.url.length - rest.length);
  if (rest === '' || rest === '/') {
    if (ctx.method !== 'GET') throw new GraphError(405, 'BadRequest', 'Method not allowed.');
    return json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#drives/$entity`, ...select(driveJson(drive, ctx.tenant), ctx.query) });
  }
  const a = address(drive, rest);
  if (!a) throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${rest.split('/')[1] ?? ''}'.`);
  const { action } = a;
  ctx.record.itemId = a.item?.id;
  const method = ctx.method;

  if (method === 'GET' && (action === '/delta' || action.startsWith('/delta('))) {
    if (!a.item) throw notFound();
    return handleDelta(ctx, drive, a.item, deltaTokenOf(action, ctx.query), `${prefixUrl}${a.itemPath}/delta`);
  }
  if (method === 'GET' && action === '') return itemResult(ctx, drive, a.item ?? raise(notFound()));
  if (method === 'GET' && action === '/children') {
    const it = a.item ?? raise(notFound());
    const all = it.kind === 'file' ? [] : drive.children(it);
    const { items, nextLink } = page(all, ctx.query, `${prefixUrl}${a.itemPath}/children`, pageSize(ctx.query, 200, 999));
    const value: unknown[] = [];
    for (const c of items) value.push(select(await itemJson(ctx.emu, drive, c, { hashes: ctx.emu.options.hashes }), ctx.query));
    return json(200, { '@odata.context': `${ctx.emu.graphBaseUrl}/$metadata#Collection(driveItem)`, ...(nextLink ? { '@odata.nextLink': nextLink } : {}), value });
  }
  if (method === 'GET' && action === '/content') {
    const it = a.item ?? raise(notFound());
    if (it.kind !== 'file') throw badRequest('Only files have content.', 'notSupported');
    return { status: 302, headers: { Location: ctx.emu.downloadUrl(drive, it) } };
  }
  if (method === 'PUT' && action === '/content') {
    const body = await ctx.body();
    const limit = ctx.emu.options.simpleUploadLimitBytes;
    if (body.length > limit) throw new GraphError(413, 'invalidRequest', `The simple upload API supports files up to ${limit} bytes; use an upload session.`, 'maxFileSizeExceeded');
    const byPath = a.itemPath.includes(':');
    const asked = ctx.query.get('@microsoft.graph.conflictBehavior');
    if (a.item && byPath && (asked === 'fail' || asked === 'rename')) {
      // A new file asked for by path, and the name is taken: the conflict behaviour decides.
      if (asked === 'fail') throw nameConflict();
      const parent = a.item.parentId === undefined ? undefined : drive.item(a.item.parentId);
      if (!parent) throw notFound();
      const { item } = drive.putFile(parent, a.item.name, Content.from(body), 'rename');
      return itemResult(ctx, drive, item, 201);
    }
    if (a.item) {
      if (a.item.kind !== 'file') throw badRequest('Cannot upload content to a folder.');
      checkIfMatch(ctx, a.item);
      drive.setContent(a.item, Content.from(body));
      return itemResult(ctx, drive, a.item, 200);
    }
    if (!a.parent || a.name === undefined) throw notFound('The parent folder does not exist.');
    const conflict = conflictOf(ctx.query.get('@microsoft.graph.conflictBehavior'), 'replace');
    const { item, created } = drive.putFile(a.parent, a.name, Content.from(body), conflict);
    return itemResult(ctx, drive, item, created ? 201 : 200);
  }
  if (method === 'POST' && action === '/createUploadSession') {
    const body = await bodyJson(ctx);
    const props = (typeof body.item === 'object' && body.item !== null ? body.item : {}) as Record<string, unknown>;
    const conflict = conflictOf(props['@microsoft.graph.conflictBehavior'] ?? ctx.query.get('@microsoft.graph.conflictBehavior'), 'fail');
    const common = { tenant: ctx.tenant, drive, conflict, fs: fsInfoOf(props.fileSystemInfo), deferCommit: body.deferCommit === true };
    if (a.item && !a.itemPath.endsWith(':')) {
      // Addressed by id: new content for that file.
      if (a.item.kind !== 'file') throw badRequest('Upload sessions write files, not folders.');
      checkIfMatch(ctx, a.item);
      return ctx.emu.uploadSessions.create({ ...common, target: { itemId: a.item.id } });
    }
    const parent = a.item ? drive.item(a.item.parentId ?? '') : a.parent;
    const name = a.item ? a.item.name : a.name;
    if (!parent || name === undefined) throw notFound('The parent folder does not exist.');
    if (typeof props.name === 'string' && props.name !== name) throw badRequest('The name in the request body must match the name in the path.');
    if (a.item && conflict === 'fail') throw nameConflict();
    if (a.item && conflict === 'replace' && a.item.kind === 'file') return ctx.emu.uploadSessions.create({ ...common, target: { itemId: a.item.id } });
    return ctx.emu.uploadSessions.create({ ...common, target: { parentId: parent.id, name } });
  }
  if (method === 'POST' && action === '/children') {
    const parent = a.item ?? raise(notFound());
    if (parent.kind === 'file') throw badRequest('Items can only be created in folders.');
    const body = await bodyJson(ctx);
    if (typeof body.name !== 'string') throw badRequest('A name is required.');
    if (body.folder === undefined) throw badRequest('Only folders can be created this way; upload files with PUT /content or an upload session.');
    const conflict = conflictOf(body['@microsoft.graph.conflictBehavior'] ?? ctx.query.get('@microsoft.graph.conflictBehavior'), 'fail');
    const created = drive.createFolder(parent, body.name, conflict, fsInfoOf(body.fileSystemInfo));
    return itemResult(ctx, drive, created, 201);
  }
  if (method === 'PATCH' && action === '') {
    const it = a.item ?? raise(notFound());
    checkIfMatch(ctx, it);
    const body = await bodyJson(ctx);
    const conflict = conflictOf(body['@microsoft.graph.conflictBehavior'] ?? ctx.query.get('@microsoft.graph.conflictBehavior'), 'fail');
    let newParent: DriveItemRecord | undefined;
    if (typeof body.parentReference === 'object' && body.parentReference !== null) {
      const pr = body.parentReference as Record<string, unknown>;
      if (pr.driveId !== undefined && pr.driveId !== drive.id) throw badRequest('Moving items between drives is not supported by PATCH; use copy.');
      if (typeof pr.id === 'string') newParent = drive.item(pr.id) ?? raise(badRequest('The new parent does not exist.'));
      else if (typeof pr.path === 'string') newParent = drive.itemByPath(decodePath(pr.path.replace(/^.*root:/, ''))) ?? raise(badRequest('The new parent does not exist.'));
    }
    const newName = typeof body.name === 'string' ? body.name : undefined;
    if (newParent || newName !== undefined) drive.move(it, newParent ?? drive.items.get(it.parentId ?? '') ?? raise(badRequest('The root cannot be renamed.')), newName ?? it.name, conflict);
    if (body.fileSystemInfo !== undefined) drive.setFileSystemInfo(it, fsInfoOf(body.fileSystemInfo));
    return itemResult(ctx, drive, it, 200);
  }
  if (method === 'DELETE' && action === '') {
    const it = a.item ?? raise(notFound());
    checkIfMatch(ctx, it);
    drive.delete(it);
    return { status: 204 };
  }
  throw new GraphError(400, 'BadRequest', `Unsupported request: ${method} ${rest}`);
}

function raise(err: GraphError): never {
  throw err;
}

const readRoles = (method: string): string[] => (method === 'GET' ? ROLES.readFiles : ROLES.writeFiles);

export const driveRoutes: GraphRoute[] = [
  {
    methods: ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'],
    pattern: PREFIX,
    roles: readRoles,
    denial: 'sharepoint',
    owner: (m, tenant) => {
      if (m[2] !== undefined) {
        const u = tenant.findUser(decodeURIComponent(m[2]));
        return u ? { kind: 'user', id: u.id, name: u.userPrincipalName } : undefined;
      }
      return driveOf(m, tenant, false)?.owner;
    },
    handle: handleDrive,
  },
];
