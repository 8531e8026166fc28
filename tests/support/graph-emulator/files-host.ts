/**
 * The file host (SharePoint's, in the real service), separate from Graph's: it serves the
 * pre-authenticated @microsoft.graph.downloadUrl links (no Authorization header, valid a few
 * minutes, Range requests answered 206 with Content-Range, an unsatisfiable range 416) and the
 * uploadUrl of upload sessions. Downloads can be made to fail on purpose (see Traffic).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tenant } from './directory.model.js';
import type { Drive, DriveItemRecord } from './drive.model.js';
import { readAll } from './content.js';
import { GraphError, type GraphResult, errorResult } from './errors.js';
import type { RequestRecord, Traffic } from './traffic.js';
import type { UploadSessions } from './upload-sessions.js';
import type { MailUploads } from './mail-uploads.js';

export interface FilesHostDeps {
  origin(): string;
  findTenant(id: string): Tenant | undefined;
  traffic: Traffic;
  uploadSessions: UploadSessions;
  mailUploads: MailUploads;
  downloadUrlLifetimeMs(): number;
  rejectAuthorizationOnUploadUrl(): boolean;
}

interface DownloadClaim {
  t: string;
  d: string;
  i: string;
  x: number;
}

export class FilesHost {
  private readonly key = randomBytes(32);

  constructor(private readonly deps: FilesHostDeps) {}

  downloadUrl(drive: Drive, item: DriveItemRecord): string {
    const claim: DownloadClaim = { t: drive.tenantId, d: drive.id, i: item.id, x: Date.now() + this.deps.downloadUrlLifetimeMs() };
    const payload = Buffer.from(JSON.stringify(claim)).toString('base64url');
    const sig = createHmac('sha256', this.key).update(payload).digest('base64url');
    return `${this.deps.origin()}/_layouts/15/download.aspx?UniqueId=${encodeURIComponent(item.id)}&tempauth=${payload}.${sig}`;
  }

  /** Resolves what a request to the file host concerns, before it is counted in flight. */
  identify(req: IncomingMessage, url: URL, rec: RequestRecord): void {
    if (req.headers.authorization !== undefined) rec.authorizationSent = true;
    if (this.deps.mailUploads.matches(url)) {
      this.deps.mailUploads.identify(url, rec);
    } else if (url.pathname === '/_layouts/15/download.aspx') {
      const claim = this.verify(url.searchParams.get('tempauth'));
      const drive = claim ? this.deps.findTenant(claim.t)?.drives.get(claim.d) : undefined;
      if (drive) {
        rec.tenantId = drive.tenantId;
        rec.owner = drive.owner;
        rec.driveId = drive.id;
        rec.itemId = claim!.i;
      }
    } else if (/^\/_api\/v2\.0\/drives\/[^/]+\/uploadSession$/.test(url.pathname)) {
      const s = this.deps.uploadSessions.find(url.searchParams.get('guid'));
      if (s) {
        rec.tenantId = s.tenant.id;
        rec.owner = s.drive.owner;
        rec.driveId = s.drive.id;
        if ('itemId' in s.target) rec.itemId = s.target.itemId;
      }
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, rec: RequestRecord): Promise<void> {
    if (url.pathname === '/_layouts/15/download.aspx' && (req.method === 'GET' || req.method === 'HEAD')) return this.download(req, res, url, rec);
    if (/^\/_api\/v2\.0\/drives\/[^/]+\/uploadSession$/.test(url.pathname)) return send(res, await this.upload(req, url));
    if (this.deps.mailUploads.matches(url)) {
      try {
        return send(res, await this.deps.mailUploads.handle(req, url));
      } catch (err) {
        if (err instanceof GraphError) return send(res, errorResult(err));
        throw err;
      }
    }
    send(res, errorResult(new GraphError(404, 'itemNotFound', 'The resource could not be found.')));
  }

  private verify(tempauth: string | null): DownloadClaim | undefined {
    const [payload, sig] = (tempauth ?? '').split('.');
    if (payload === undefined || sig === undefined) return undefined;
    const want = createHmac('sha256', this.key).update(payload).digest();
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as DownloadClaim;
  }

  private async download(req: IncomingMessage, res: ServerResponse, url: URL, rec: RequestRecord): Promise<void> {
    const claim = this.verify(url.searchParams.get('tempauth'));
    if (!claim) return send(res, errorResult(new GraphError(401, 'unauthenticated', 'Invalid or missing tempauth.')));
    if (claim.x < Date.now()) return send(res, errorResult(new GraphError(401, 'unauthenticated', 'The download URL has expired; get a new @microsoft.graph.downloadUrl.')));
    const drive = this.deps.findTenant(claim.t)?.drives.get(claim.d);
    const item = drive?.item(claim.i);
    if (!drive || !item || item.kind !== 'file') return send(res, errorResult(new GraphError(404, 'itemNotFound', 'The resource could not be found.')));
    const failure = this.deps.traffic.takeDownloadFailure(drive.id, item.id);
    if (failure && failure.afterBytes === undefined) {
      rec.note = 'download made to fail';
      return send(res, errorResult(new GraphError(failure.status ?? 500, 'generalException', 'An unspecified error has occurred.')));
    }
    const content = item.content!;
    const size = content.size;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    const m = range !== undefined ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start >= size || start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
    }
    const length = size === 0 ? 0 : end - start + 1;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': length,
      'Accept-Ranges': 'bytes',
      ETag: `"{${item.eTagGuid}},${item.version}"`,
      'Last-Modified': item.modifiedAt.toUTCString(),
      'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(item.name)}`,
    };
    if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    let sent = 0;
    const cut = failure?.afterBytes;
    for await (const chunk of content.chunks(start, end)) {
      if (res.destroyed) return;
      const piece = cut !== undefined && sent + chunk.length > cut ? chunk.subarray(0, Math.max(0, cut - sent)) : chunk;
      if (piece.length > 0 && !res.write(piece)) await drainOrClose(res);
      sent += piece.length;
      rec.bytesSent = sent;
      if (cut !== undefined && sent >= cut) {
        rec.note = `download cut after ${sent} bytes`;
        res.destroy();
        return;
      }
    }
    res.end();
  }

  private async upload(req: IncomingMessage, url: URL): Promise<GraphResult> {
    try {
      const s = this.deps.uploadSessions.find(url.searchParams.get('guid'));
      if (!s) throw new GraphError(404, 'itemNotFound', 'The upload session was not found or has expired.', 'uploadSessionNotFound');
      if (req.method === 'DELETE') return this.deps.uploadSessions.cancel(s);
      if (req.method === 'GET') return this.deps.uploadSessions.status(s);
      if (this.deps.rejectAuthorizationOnUploadUrl() && req.headers.authorization !== undefined) {
        throw new GraphError(401, 'unauthenticated', 'Do not send an Authorization header to an uploadUrl: it is pre-authenticated.');
      }
      const body = await readAll(req, 64 * 1024 * 1024);
      if (req.method === 'POST') return await this.deps.uploadSessions.commit(s);
      if (req.method !== 'PUT') throw new GraphError(405, 'invalidRequest', 'Method not allowed.');
      return await this.deps.uploadSessions.putFragment(s, req.headers['content-range'], body);
    } catch (err) {
      if (err instanceof GraphError) return errorResult(err);
      throw err;
    }
  }
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function send(res: ServerResponse, r: GraphResult): void {
  const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
  let body: Buffer | undefined = r.body;
  if (r.json !== undefined) {
    body = Buffer.from(JSON.stringify(r.json));
    headers['Content-Type'] = 'application/json; charset=utf-8';
  }
  headers['Content-Length'] = body?.length ?? 0;
  res.writeHead(r.status, headers);
  res.end(body);
}
