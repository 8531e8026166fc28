import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiErrorSchema } from '../../../common/api/errors.js';
import {
  ContactListQuerySchema,
  ContactListResultSchema,
  EventListQuerySchema,
  EventListResultSchema,
  MailAttachmentQuerySchema,
  MailMessageDetailSchema,
  MailMessageQuerySchema,
  MailSearchQuerySchema,
  MailSearchResultSchema,
  MountExportQuerySchema,
} from '../../../common/api/m365-mail.js';
import { MountRefParamsSchema } from '../../../common/api/mounts.js';
import { PREVIEW_CSP } from '../../../node-service/cloud/exchange/mail-preview.js';
import type { MountsService } from '../mounts/mounts.service.js';
import { principalOf } from './access-control.js';
import { disposition, sendStream } from './mounts.routes.js';
import type { ZodApp } from './zod-app.js';

const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
const params = MountRefParamsSchema;
/** Like every mount route: operators and admins; a viewer reads no mail of a backup. */
const operator = { access: { role: 'operator' as const } };
const tags = ['mounts', 'm365'];

/** What each export is, as a download. */
const EXPORTS: Record<z.infer<typeof MountExportQuerySchema>['format'], { type: string; ext: string }> = {
  mbox: { type: 'application/mbox', ext: 'mbox' },
  ics: { type: 'text/calendar; charset=utf-8', ext: 'ics' },
  vcf: { type: 'text/vcard; charset=utf-8', ext: 'vcf' },
  zip: { type: 'application/zip', ext: 'zip' },
};

/** Nothing of a backup's mail is kept by a browser or a proxy, nor runs as a page of ours. */
function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
}

/**
 * The mail browser of a Microsoft 365 backup opened as a mount (common/api/m365-mail.ts):
 * searches and lists answered from the backup's metadata on the destination's node; a
 * message's preview (sanitised HTML with a strict CSP, for a sandboxed iframe), its
 * attachments and exports streamed from the repository; downloads and exports audited.
 */
export function registerM365MailRoutes(app: ZodApp, deps: { mounts: MountsService }): void {
  const svc = deps.mounts;
  app.get(
    '/api/mounts/:mount/mail/messages',
    { config: operator, schema: { tags, summary: 'Messages of a mail folder (or the whole mailbox: path=mail), searched and sorted from the metadata', params, querystring: MailSearchQuerySchema, response: { 200: MailSearchResultSchema, ...errors } } },
    async (request) => MailSearchResultSchema.parse(await svc.exchange(request.params.mount, 'mail.search', { ...request.query })),
  );
  app.get(
    '/api/mounts/:mount/mail/message',
    { config: operator, schema: { tags, summary: "One message's fields, text and attachments (its content read from the repository)", params, querystring: MailMessageQuerySchema, response: { 200: MailMessageDetailSchema, ...errors } } },
    async (request) => MailMessageDetailSchema.parse(await svc.exchange(request.params.mount, 'mail.message', { path: request.query.path })),
  );
  app.get(
    '/api/mounts/:mount/mail/preview',
    { config: operator, schema: { tags, summary: 'A message as a sanitised HTML document for a sandboxed iframe: nothing runs, nothing remote loads (strict CSP)', params, querystring: MailMessageQuerySchema } },
    async (request, reply) => {
      const { body } = await svc.exchangeStream(request.params.mount, 'mail.preview', { paths: [request.query.path] }, principalOf(request));
      void noStore(reply.code(200)).header('content-type', 'text/html; charset=utf-8').header('content-security-policy', PREVIEW_CSP);
      return sendStream(reply, body);
    },
  );
  app.get(
    '/api/mounts/:mount/mail/attachment',
    { config: operator, schema: { tags, summary: 'One attachment of a message, as a download (audited)', params, querystring: MailAttachmentQuerySchema } },
    async (request, reply) => {
      const { path, index } = request.query;
      const { head, body } = await svc.exchangeStream(request.params.mount, 'mail.attachment', { paths: [path], index }, principalOf(request));
      void noStore(reply.code(200))
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', disposition('attachment', head.name ?? `attachment-${index}`))
        .header('content-security-policy', "default-src 'none'; sandbox");
      if (head.size !== undefined) void reply.header('content-length', String(head.size));
      return sendStream(reply, body);
    },
  );
  app.get(
    '/api/mounts/:mount/calendar/events',
    { config: operator, schema: { tags, summary: 'Events of a calendar (or of every one: path=calendar), from the metadata', params, querystring: EventListQuerySchema, response: { 200: EventListResultSchema, ...errors } } },
    async (request) => EventListResultSchema.parse(await svc.exchange(request.params.mount, 'calendar.events', { ...request.query })),
  );
  app.get(
    '/api/mounts/:mount/contacts/list',
    { config: operator, schema: { tags, summary: 'Contacts of a folder (or of every one: path=contacts), from the metadata', params, querystring: ContactListQuerySchema, response: { 200: ContactListResultSchema, ...errors } } },
    async (request) => ContactListResultSchema.parse(await svc.exchange(request.params.mount, 'contacts.list', { ...request.query })),
  );
  app.get(
    '/api/mounts/:mount/export',
    {
      config: operator,
      schema: { tags, summary: 'Mail as mbox, events as ICS, contacts as VCF, or a zip of them (messages as .eml, folders as .mbox), streamed (audited)', params, querystring: MountExportQuerySchema },
    },
    async (request, reply) => {
      const { format, path: paths } = request.query;
      const { head, body } = await svc.exchangeStream(request.params.mount, 'export', { paths, format }, principalOf(request));
      const last = paths.length === 1 ? paths[0]!.split('/').filter(Boolean).pop() : undefined;
      const kind = EXPORTS[format];
      const name = head.name ?? `${(last ?? `mount-${request.params.mount}`).replace(/\.[a-z]+$/i, '')}.${kind.ext}`;
      void noStore(reply.code(200)).header('content-type', kind.type).header('content-disposition', disposition('attachment', name)).header('content-security-policy', "default-src 'none'; sandbox");
      return sendStream(reply, body);
    },
  );
}
