import { z } from 'zod';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  BrowseListingSchema,
  BrowseListQuerySchema,
  BrowseSearchHitSchema,
  BrowseSearchRequestSchema,
  BrowseSearchResultSchema,
  IscsiStartRequestSchema,
  IscsiStartResponseSchema,
  MountContentQuerySchema,
  MountExtendRequestSchema,
  MountListQuerySchema,
  MountRefParamsSchema,
  MountRestoreRequestSchema,
  MountSchema,
  MountStartRequestSchema,
  MountStatQuerySchema,
  MountZipQuerySchema,
} from '../../../common/api/mounts.js';
import { TaskSchema } from '../../../common/api/tasks.js';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { AppError } from '../errors.js';
import type { MountsService } from '../mounts/mounts.service.js';
import { principalOf } from './access-control.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
const params = MountRefParamsSchema;
/** Browsing and restoring backups' files: operators and admins; a viewer sees no file of a backup. */
const operator = { access: { role: 'operator' as const } };
const tags = ['mounts'];

/** A downloaded name, safe in a header whatever the file was called. */
export function disposition(kind: 'attachment' | 'inline', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** bytes=a-b | bytes=a- | bytes=-n (one range); undefined when there is no Range header. */
export function parseRange(header: string | undefined, size: () => Promise<number>): Promise<{ start?: number; end?: number } | undefined> {
  if (!header) return Promise.resolve(undefined);
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new AppError(416, 'INVALID_RANGE', `unsupported Range "${header.slice(0, 100)}": one range, bytes=start-end`);
  if (m[1] === '') {
    const suffix = Number(m[2]);
    return size().then((n) => ({ start: Math.max(0, n - suffix), end: n - 1 }));
  }
  return Promise.resolve({ start: Number(m[1]), ...(m[2] === '' ? {} : { end: Number(m[2]) }) });
}

export function sendStream(reply: FastifyReply, body: Readable): FastifyReply {
  // The client went away: stop the node's stream too.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) body.destroy();
  });
  return reply.send(body);
}

export function registerMountRoutes(app: ZodApp, deps: { mounts: MountsService }): void {
  const svc = deps.mounts;
  app.post(
    '/api/mounts',
    { config: operator, schema: { tags, summary: "Open a backup's filesystems for browsing (MOUNT task)", body: MountStartRequestSchema, response: { 202: MountSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await svc.start(request.body, principalOf(request))),
  );
  app.post(
    '/api/mounts/iscsi',
    {
      config: operator,
      schema: {
        tags,
        summary: "Export a backup's disk over iSCSI (read-only, named initiators, CHAP); the CHAP password is in this answer only",
        body: IscsiStartRequestSchema,
        response: { 200: IscsiStartResponseSchema, ...errors },
      },
    },
    async (request) => svc.startIscsi(request.body, principalOf(request)),
  );
  app.get('/api/mounts', { config: operator, schema: { tags, summary: 'Mounts (newest first)', querystring: MountListQuerySchema, response: { 200: z.array(MountSchema), ...errors } } }, async (request) =>
    svc.list(request.query.active ?? false),
  );
  app.get('/api/mounts/:mount', { config: operator, schema: { tags, summary: 'One mount', params, response: { 200: MountSchema, ...errors } } }, async (request) => svc.get(request.params.mount));
  app.post(
    '/api/mounts/:mount/extend',
    { config: operator, schema: { tags, summary: 'Set the idle timeout, counted from now', params, body: MountExtendRequestSchema, response: { 200: MountSchema, ...errors } } },
    async (request) => svc.extend(request.params.mount, request.body.idleSeconds, principalOf(request)),
  );
  app.delete('/api/mounts/:mount', { config: operator, schema: { tags, summary: 'Close a mount (nothing is left on the node)', params, response: { 202: MountSchema, ...errors } } }, async (request, reply) =>
    reply.code(202).send(await svc.stop(request.params.mount, principalOf(request))),
  );

  app.get(
    '/api/mounts/:mount/files',
    { config: operator, schema: { tags, summary: 'One page of a folder; the root lists one folder per filesystem', params, querystring: BrowseListQuerySchema, response: { 200: BrowseListingSchema, ...errors } } },
    async (request) => svc.listFiles(request.params.mount, request.query),
  );
  app.get(
    '/api/mounts/:mount/stat',
    { config: operator, schema: { tags, summary: 'One entry', params, querystring: MountStatQuerySchema, response: { 200: BrowseSearchHitSchema, ...errors } } },
    async (request) => svc.stat(request.params.mount, request.query.path),
  );
  app.get(
    '/api/mounts/:mount/search',
    { config: operator, schema: { tags, summary: 'Find entries by name (substring or glob) under a folder', params, querystring: BrowseSearchRequestSchema, response: { 200: BrowseSearchResultSchema, ...errors } } },
    async (request) => svc.search(request.params.mount, request.query),
  );
  app.get(
    '/api/mounts/:mount/content',
    { config: operator, schema: { tags, summary: "A file's bytes (HTTP Range supported); download=1 for an attachment", params, querystring: MountContentQuerySchema } },
    async (request, reply) => {
      const id = request.params.mount;
      const { path, download } = request.query;
      const range = await parseRange(request.headers.range, async () => (await svc.stat(id, path)).size);
      const { head, body } = await svc.read(id, path, range ?? {}, { by: principalOf(request), download: download === '1' });
      const size = head.size ?? 0;
      const start = head.start ?? 0;
      const end = head.end ?? size - 1;
      const name = path.split('/').pop() || 'file';
      void reply
        .code(range ? 206 : 200)
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(Math.max(0, end - start + 1)))
        .header('accept-ranges', 'bytes')
        .header('content-disposition', disposition(download === '1' ? 'attachment' : 'inline', name))
        // Whatever the file holds, it is never run as a page of ours.
        .header('content-security-policy', "default-src 'none'; sandbox");
      if (head.mtime) void reply.header('last-modified', new Date(head.mtime).toUTCString());
      if (range) void reply.header('content-range', `bytes ${start}-${end}/${size}`);
      return sendStream(reply, body);
    },
  );
  app.get(
    '/api/mounts/:mount/zip',
    { config: operator, schema: { tags, summary: 'Files and folders of one filesystem as a streamed zip', params, querystring: MountZipQuerySchema } },
    async (request, reply) => {
      const { path: paths, name } = request.query;
      const { body } = await svc.zip(request.params.mount, paths, principalOf(request));
      const last = paths.length === 1 ? paths[0]!.split('/').filter(Boolean).pop() : undefined;
      const file = `${(name ?? last ?? `mount-${request.params.mount}`).replace(/\.zip$/i, '')}.zip`;
      void reply.code(200).header('content-type', 'application/zip').header('content-disposition', disposition('attachment', file)).header('content-security-policy', "default-src 'none'; sandbox");
      return sendStream(reply, body);
    },
  );
  app.post(
    '/api/mounts/:mount/restore',
    { config: operator, schema: { tags, summary: "Restore files and folders to a directory on the mount's node (FILE_RESTORE task)", params, body: MountRestoreRequestSchema, response: { 202: TaskSchema, ...errors } } },
    async (request, reply) => reply.code(202).send(await svc.restore(request.params.mount, request.body, principalOf(request))),
  );
}
