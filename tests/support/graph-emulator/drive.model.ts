/**
 * A drive (a OneDrive or a document library) held in memory: items by id, the folder tree, and
 * a change sequence from which delta answers. Every change stamps the item with the next
 * sequence number; deletions leave tombstones so a delta token from before them reports them.
 * Both the Graph routes and the tests' controls change a drive through these methods.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Content, type ContentSpec } from './content.js';
import { GraphError, badRequest, nameConflict, notFound } from './errors.js';

export type ConflictBehavior = 'fail' | 'replace' | 'rename';

export interface DriveItemRecord {
  id: string;
  name: string;
  /** undefined for the root. */
  parentId: string | undefined;
  kind: 'root' | 'folder' | 'file';
  content?: Content;
  mimeType?: string;
  createdAt: Date;
  modifiedAt: Date;
  fsCreatedAt: Date;
  fsModifiedAt: Date;
  eTagGuid: string;
  version: number;
  contentVersion: number;
  changeSeq: number;
  /** Set once deleted; the record stays as a tombstone for delta. */
  deletedSeq?: number;
  /** Live children: lower-case name (names are case-insensitive) -> id. */
  children: Map<string, string>;
}

export interface DriveOwnerRef {
  kind: 'user' | 'site';
  id: string;
  /** The user's principal name or the site's name, for logs and tests. */
  name: string;
}

export type SnapshotEntry = { type: 'folder' } | { type: 'file'; size: number; sha256: string; lastModified: string };

/** What a test seeds: a path ending in '/' is a folder; others are files. */
export type DriveSeed = Record<string, ContentSpec | { content: ContentSpec; lastModified?: Date } | null>;

// "Invalid file names and file types in OneDrive and SharePoint".
const INVALID_NAME = /["*:<>?/\\|]|^\s|[\s.]$|^~\$|^\.lock$|^(con|prn|aux|nul|com\d|lpt\d)$|^desktop\.ini$|_vti_/i;

export function newItemId(): string {
  // OneDrive for Business ids look like 01 + 32 base32 characters.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(32);
  let s = '01';
  for (const b of bytes) s += alphabet[b % 32];
  return s;
}

export class Drive {
  readonly items = new Map<string, DriveItemRecord>();
  readonly root: DriveItemRecord;
  readonly createdAt = new Date();
  /** The last change's sequence number; seqTimes[n] is when change n happened. */
  seq = 0;
  readonly seqTimes: number[] = [0];
  /** Bumped to expire every delta token of this drive. */
  epoch = 0;
  /** The innerError code the next 410 carries. */
  resyncKind: 'resyncChangesApplyDifferences' | 'resyncChangesUploadDifferences' = 'resyncChangesApplyDifferences';

  constructor(
    readonly id: string,
    readonly name: string,
    readonly driveType: 'business' | 'documentLibrary',
    readonly owner: DriveOwnerRef,
    readonly tenantId: string,
    readonly webUrl: string,
    readonly siteId: string,
  ) {
    this.root = this.newRecord(undefined, 'root', 'root');
    this.items.set(this.root.id, this.root);
  }

  static newId(): string {
    return 'b!' + randomBytes(48).toString('base64url');
  }

  // --- reading -------------------------------------------------------------------------

  item(id: string): DriveItemRecord | undefined {
    const it = this.items.get(id);
    return it && it.deletedSeq === undefined ? it : undefined;
  }

  mustItem(id: string): DriveItemRecord {
    const it = this.item(id);
    if (!it) throw notFound();
    return it;
  }

  childByName(folder: DriveItemRecord, name: string): DriveItemRecord | undefined {
    const id = folder.children.get(name.toLowerCase());
    return id !== undefined ? this.items.get(id) : undefined;
  }

  /** '/a/b.txt' or 'a/b.txt' relative to the root; '' or '/' is the root. */
  itemByPath(path: string, from: DriveItemRecord = this.root): DriveItemRecord | undefined {
    let cur: DriveItemRecord | undefined = from;
    for (const part of path.split('/').filter((p) => p !== '')) {
      if (!cur || cur.kind === 'file') return undefined;
      cur = this.childByName(cur, part);
    }
    return cur;
  }

  mustPath(path: string): DriveItemRecord {
    const it = this.itemByPath(path);
    if (!it) throw new Error(`no item at ${path} in drive ${this.name}`);
    return it;
  }

  pathOf(item: DriveItemRecord): string {
    const parts: string[] = [];
    let cur: DriveItemRecord | undefined = item;
    while (cur && cur.kind !== 'root') {
      parts.unshift(cur.name);
      cur = cur.parentId !== undefined ? this.items.get(cur.parentId) : undefined;
    }
    return '/' + parts.join('/');
  }

  children(folder: DriveItemRecord): DriveItemRecord[] {
    return [...folder.children.values()].map((id) => this.items.get(id)!).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Sum of the file sizes under an item, as OneDrive reports a folder's size. */
  sizeOf(item: DriveItemRecord): number {
    if (item.kind === 'file') return item.content!.size;
    let total = 0;
    for (const id of item.children.values()) total += this.sizeOf(this.items.get(id)!);
    return total;
  }

  /** Live items, parents before their children. */
  *walk(from: DriveItemRecord = this.root): Generator<DriveItemRecord> {
    yield from;
    for (const c of this.children(from)) yield* this.walk(c);
  }

  isAncestor(ancestor: DriveItemRecord, item: DriveItemRecord): boolean {
    let cur: DriveItemRecord | undefined = item;
    while (cur) {
      if (cur.id === ancestor.id) return true;
      cur = cur.parentId !== undefined ? this.items.get(cur.parentId) : undefined;
    }
    return false;
  }

  /** Every live path with, for files, size and SHA-256: the state a restore is compared with. */
  async snapshot(): Promise<Record<string, SnapshotEntry>> {
    const out: Record<string, SnapshotEntry> = {};
    for (const it of this.walk()) {
      if (it.kind === 'root') continue;
      if (it.kind === 'folder') out[this.pathOf(it)] = { type: 'folder' };
      else {
        const h = await it.content!.getHashes();
        out[this.pathOf(it)] = { type: 'file', size: it.content!.size, sha256: h.sha256Hex, lastModified: it.fsModifiedAt.toISOString() };
      }
    }
    return out;
  }

  // --- changing (used by Graph routes and by tests) --------------------------------------

  createFolder(parent: DriveItemRecord, name: string, conflict: ConflictBehavior = 'fail', fs: FsInfo = {}): DriveItemRecord {
    const finalName = this.resolveConflict(parent, name, conflict);
    const rec = this.newRecord(parent, finalName, 'folder', fs);
    this.attach(rec, parent);
    return rec;
  }

  /** A new file, or new content for an existing one (conflict 'replace'); created tells which. */
  putFile(parent: DriveItemRecord, name: string, content: Content, conflict: ConflictBehavior = 'replace', fs: FsInfo = {}): { item: DriveItemRecord; created: boolean } {
    this.checkName(name);
    const existing = this.childByName(parent, name);
    if (existing && conflict === 'replace' && existing.kind === 'file') {
      this.setContent(existing, content, fs);
      return { item: existing, created: false };
    }
    const finalName = this.resolveConflict(parent, name, conflict);
    const rec = this.newRecord(parent, finalName, 'file', fs);
    rec.content = content;
    rec.mimeType = mimeTypeOf(finalName);
    this.attach(rec, parent);
    return { item: rec, created: true };
  }

  setContent(item: DriveItemRecord, content: Content, fs: FsInfo = {}): void {
    if (item.kind !== 'file') throw badRequest('Only files have content.');
    item.content = content;
    item.contentVersion++;
    const now = new Date();
    item.modifiedAt = now;
    item.fsModifiedAt = fs.lastModifiedDateTime ?? now;
    if (fs.createdDateTime) item.fsCreatedAt = fs.createdDateTime;
    this.touch(item);
  }

  rename(item: DriveItemRecord, name: string, conflict: ConflictBehavior = 'fail'): void {
    this.move(item, this.items.get(item.parentId!)!, name, conflict);
  }

  move(item: DriveItemRecord, newParent: DriveItemRecord, newName: string = item.name, conflict: ConflictBehavior = 'fail'): void {
    if (item.kind === 'root') throw badRequest('The root cannot be moved.');
    if (newParent.kind === 'file') throw badRequest('The new parent must be a folder.');
    if (this.isAncestor(item, newParent)) throw badRequest('A folder cannot be moved into itself.');
    const sameSlot = newParent.id === item.parentId && newName.toLowerCase() === item.name.toLowerCase();
    const finalName = sameSlot ? newName : this.resolveConflict(newParent, newName, conflict, item);
    this.items.get(item.parentId!)!.children.delete(item.name.toLowerCase());
    item.parentId = newParent.id;
    item.name = finalName;
    newParent.children.set(finalName.toLowerCase(), item.id);
    item.modifiedAt = new Date();
    this.touch(item);
  }

  setFileSystemInfo(item: DriveItemRecord, fs: FsInfo): void {
    if (fs.createdDateTime) item.fsCreatedAt = fs.createdDateTime;
    if (fs.lastModifiedDateTime) item.fsModifiedAt = fs.lastModifiedDateTime;
    this.touch(item);
  }

  /** Deletes an item and everything under it, leaving tombstones. */
  delete(item: DriveItemRecord): void {
    if (item.kind === 'root') throw new GraphError(403, 'accessDenied', 'The root of a drive cannot be deleted.');
    for (const id of [...item.children.values()]) this.delete(this.items.get(id)!);
    this.items.get(item.parentId!)!.children.delete(item.name.toLowerCase());
    this.touch(item);
    item.deletedSeq = this.seq;
  }

  /** Every delta token handed out so far now answers 410 Gone. */
  expireDeltaTokens(kind: Drive['resyncKind'] = 'resyncChangesApplyDifferences'): void {
    this.epoch++;
    this.resyncKind = kind;
  }

  // --- path-based helpers for tests -----------------------------------------------------

  /** Creates the folders of a path as needed; returns the last one. */
  mkdirp(path: string): DriveItemRecord {
    let cur = this.root;
    for (const part of path.split('/').filter((p) => p !== '')) cur = this.childByName(cur, part) ?? this.createFolder(cur, part);
    return cur;
  }

  /** Adds or overwrites a file at a path, creating its folders. */
  addFile(path: string, spec: ContentSpec, lastModified?: Date): DriveItemRecord {
    const parts = path.split('/').filter((p) => p !== '');
    const name = parts.pop();
    if (name === undefined) throw new Error('a file needs a name');
    const parent = this.mkdirp(parts.join('/'));
    return this.putFile(parent, name, Content.from(spec), 'replace', lastModified ? { lastModifiedDateTime: lastModified } : {}).item;
  }

  editFile(path: string, spec: ContentSpec): DriveItemRecord {
    const it = this.mustPath(path);
    this.setContent(it, Content.from(spec));
    return it;
  }

  renamePath(path: string, newName: string): DriveItemRecord {
    const it = this.mustPath(path);
    this.rename(it, newName);
    return it;
  }

  movePath(path: string, newParentPath: string): DriveItemRecord {
    const it = this.mustPath(path);
    this.move(it, this.mkdirp(newParentPath));
    return it;
  }

  deletePath(path: string): DriveItemRecord {
    const it = this.mustPath(path);
    this.delete(it);
    return it;
  }

  seed(tree: DriveSeed): void {
    for (const [path, spec] of Object.entries(tree)) {
      if (path.endsWith('/') || spec === null) this.mkdirp(path);
      else if (typeof spec === 'object' && !Buffer.isBuffer(spec) && 'content' in spec) this.addFile(path, spec.content, spec.lastModified);
      else this.addFile(path, spec);
    }
  }

  // --- internals -------------------------------------------------------------------------

  private newRecord(parent: DriveItemRecord | undefined, name: string, kind: DriveItemRecord['kind'], fs: FsInfo = {}): DriveItemRecord {
    if (kind !== 'root') this.checkName(name);
    const now = new Date();
    const rec: DriveItemRecord = {
      id: newItemId(),
      name,
      parentId: parent?.id,
      kind,
      createdAt: now,
      modifiedAt: now,
      fsCreatedAt: fs.createdDateTime ?? now,
      fsModifiedAt: fs.lastModifiedDateTime ?? now,
      eTagGuid: randomUUID().toUpperCase(),
      version: 0,
      contentVersion: 1,
      changeSeq: 0,
      children: new Map(),
    };
    this.touch(rec);
    return rec;
  }

  private attach(rec: DriveItemRecord, parent: DriveItemRecord): void {
    this.items.set(rec.id, rec);
    parent.children.set(rec.name.toLowerCase(), rec.id);
  }

  private touch(item: DriveItemRecord): void {
    item.version++;
    item.changeSeq = ++this.seq;
    this.seqTimes[this.seq] = Date.now();
  }

  private checkName(name: string): void {
    if (name === '' || name.length > 400 || INVALID_NAME.test(name)) throw badRequest(`The name '${name}' is not valid.`, 'invalidRequest', 'invalidPath');
  }

  private resolveConflict(parent: DriveItemRecord, name: string, conflict: ConflictBehavior, moving?: DriveItemRecord): string {
    this.checkName(name);
    const existing = this.childByName(parent, name);
    if (!existing || existing === moving) return name;
    if (conflict === 'fail') throw nameConflict();
    if (conflict === 'replace') {
      this.delete(existing);
      return name;
    }
    // OneDrive's rename: "name 1.ext", "name 2.ext", ...
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let n = 1; ; n++) {
      const candidate = `${stem} ${n}${ext}`;
      if (!this.childByName(parent, candidate)) return candidate;
    }
  }
}

export interface FsInfo {
  createdDateTime?: Date;
  lastModifiedDateTime?: Date;
}

const MIME: Record<string, string> = {
  txt: 'text/plain',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  png: 'image/png',
  jpg: 'image/jpeg',
  json: 'application/json',
};

export function mimeTypeOf(name: string): string {
  const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1).toLowerCase() : '';
  return MIME[ext] ?? 'application/octet-stream';
}

/** A stable GUID-shaped id from text, for sites and service principals made from names. */
export function guidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
