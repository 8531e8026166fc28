/**
 * Upload sessions as driveItem: createUploadSession documents them: the uploadUrl (on the file
 * host, not Graph's) takes sequential PUTs with Content-Range "bytes a-b/total"; each answers
 * 202 with nextExpectedRanges until the last, which creates the file (201) or replaces an
 * existing one (200). GET reports the status, DELETE cancels (204), a POST completes a
 * deferCommit session. Fragments must be multiples of 320 KiB except the last and at most
 * 60 MiB; an overlap or a gap answers 416; a name taken meanwhile answers 409 at the end.
 */
import { randomUUID } from 'node:crypto';
import { BufferContent } from './content.js';
import type { Tenant } from './directory.model.js';
import type { ConflictBehavior, Drive, DriveItemRecord, FsInfo } from './drive.model.js';
import { GraphError, type GraphResult, notFound } from './errors.js';
import { json } from './graph-routes.js';
import { itemJson, type ResourceContext } from './resources.js';

const FRAGMENT_UNIT = 320 * 1024;
const MAX_FRAGMENT = 60 * 1024 * 1024;

export interface UploadSession {
  id: string;
  tenant: Tenant;
  drive: Drive;
  /** An existing file to replace, or a parent folder and a name. */
  target: { itemId: string } | { parentId: string; name: string };
  conflict: ConflictBehavior;
  fs: FsInfo;
  deferCommit: boolean;
  expires: Date;
  total?: number;
  parts: Buffer[];
  received: number;
}

export class UploadSessions {
  private readonly sessions = new Map<string, UploadSession>();

  constructor(
    private readonly ctx: ResourceContext & { filesOrigin: string; options: { uploadSessionLifetimeMs: number; hashes: ('quickXorHash' | 'sha1Hash' | 'sha256Hash')[] } },
  ) {}

  create(s: Omit<UploadSession, 'id' | 'expires' | 'parts' | 'received'>): GraphResult {
    const session: UploadSession = { ...s, id: randomUUID(), expires: new Date(Date.now() + this.ctx.options.uploadSessionLifetimeMs), parts: [], received: 0 };
    this.sessions.set(session.id, session);
    return json(200, {
      '@odata.context': `${this.ctx.graphBaseUrl}/$metadata#microsoft.graph.uploadSession`,
      uploadUrl: `${this.ctx.filesOrigin}/_api/v2.0/drives/${encodeURIComponent(s.drive.id)}/uploadSession?guid=${session.id}&tempauth=${randomUUID()}`,
      expirationDateTime: session.expires.toISOString(),
      nextExpectedRanges: ['0-'],
    });
  }

  /** The session an uploadUrl names, if it is still alive. */
  find(guid: string | null): UploadSession | undefined {
    if (guid === null) return undefined;
    const s = this.sessions.get(guid);
    if (s && s.expires.getTime() < Date.now()) {
      this.sessions.delete(guid);
      return undefined;
    }
    return s;
  }

  status(s: UploadSession): GraphResult {
    return json(200, { expirationDateTime: s.expires.toISOString(), nextExpectedRanges: this.ranges(s) });
  }

  cancel(s: UploadSession): GraphResult {
    this.sessions.delete(s.id);
    return { status: 204 };
  }

  async putFragment(s: UploadSession, contentRange: string | undefined, body: Buffer): Promise<GraphResult> {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange ?? '');
    if (!m) throw new GraphError(400, 'invalidRequest', 'The Content-Range header is missing or malformed.');
    const start = Number(m[1]);
    const end = Number(m[2]);
    const total = m[3] === '*' ? undefined : Number(m[3]);
    if (total === undefined) throw new GraphError(400, 'invalidRequest', 'The total size of the file must be given in Content-Range.');
    if (s.total !== undefined && s.total !== total) throw new GraphError(400, 'invalidRequest', 'Declared total size for this fragment is different from that of the upload session.', 'fragmentLengthMismatch');
    if (end < start || end >= total) throw new GraphError(416, 'invalidRange', 'The Content-Range is not valid for the declared size.');
    if (body.length !== end - start + 1) throw new GraphError(400, 'invalidRequest', 'The body length does not match the Content-Range.');
    if (body.length > MAX_FRAGMENT) throw new GraphError(413, 'invalidRequest', 'Fragments are limited to 60 MiB.', 'maxFragmentLengthExceeded');
    if (start < s.received) throw new GraphError(416, 'invalidRange', 'Uploaded fragment overlaps with existing data.', 'fragmentOverlap');
    if (start > s.received) throw new GraphError(416, 'invalidRange', 'Uploaded fragment is out of order.', 'fragmentOutOfOrder');
    if (end + 1 < total && body.length % FRAGMENT_UNIT !== 0) {
      throw new GraphError(400, 'invalidRequest', `Fragment of ${body.length} bytes: every fragment but the last must be a multiple of 320 KiB (327,680 bytes).`);
    }
    s.total = total;
    s.parts.push(Buffer.from(body));
    s.received = end + 1;
    if (s.received < total || s.deferCommit) {
      return json(202, { expirationDateTime: s.expires.toISOString(), nextExpectedRanges: this.ranges(s) });
    }
    return this.commit(s);
  }

  /** Creates or replaces the file; a 409 keeps the session so the client can retry. */
  async commit(s: UploadSession): Promise<GraphResult> {
    if (s.total === undefined || s.received < s.total) throw new GraphError(400, 'invalidRequest', 'The upload session is incomplete.', 'uploadSessionIncomplete');
    const content = new BufferContent(Buffer.concat(s.parts));
    const d = s.drive;
    let item: DriveItemRecord;
    let created: boolean;
    if ('itemId' in s.target) {
      item = d.item(s.target.itemId) ?? (() => { throw notFound(); })();
      d.setContent(item, content, s.fs);
      created = false;
    } else {
      const parent = d.item(s.target.parentId);
      if (!parent) throw notFound('The parent folder of the upload no longer exists.');
      const existing = d.childByName(parent, s.target.name);
      if (existing && s.conflict === 'fail') {
        throw new GraphError(409, 'nameAlreadyExists', 'Another file exists with the same name as the uploaded session. You can redirect the upload session to use a new filename by calling PUT with the new metadata and @microsoft.graph.sourceUrl attribute.');
      }
      ({ item, created } = d.putFile(parent, s.target.name, content, s.conflict, s.fs));
    }
    this.sessions.delete(s.id);
    return json(created ? 201 : 200, await itemJson(this.ctx, d, item, { hashes: this.ctx.options.hashes }));
  }

  private ranges(s: UploadSession): string[] {
    if (s.total !== undefined && s.received >= s.total) return [];
    return [`${s.received}-`];
  }
}
