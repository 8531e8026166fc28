/**
 * Microsoft Graph calls for a mailbox's mail (https://learn.microsoft.com/graph/delta-query-messages):
 * the folder hierarchy by mailFolders/delta, the messages of each folder by
 * mailFolders/{id}/messages/delta, and a message's original MIME ($value), streamed.
 *
 * Every call sends `Prefer: IdType="ImmutableId"` (a message keeps its id when it moves to
 * another folder, so a move is a new version of the same item rather than a delete and a new
 * download) and `Prefer: odata.maxpagesize` (the service's default page size is not
 * documented). Every call names the mailbox as its owner: Exchange allows 4 concurrent
 * requests per app and mailbox, and GraphClient keeps each owner within its per-owner limit.
 */
import { ResyncRequiredError } from './cloud-errors.js';
import type { GraphClient, GraphRequest } from './graph-client.js';

export interface GraphRecipient {
  emailAddress?: { name?: string | null; address?: string | null };
}

/** A mailFolder as mailFolders/delta returns it. */
export interface MailFolder {
  id: string;
  displayName?: string;
  parentFolderId?: string;
  '@removed'?: { reason?: string };
}

/** A message as messages/delta returns it with MESSAGE_SELECT. */
export interface GraphMessage {
  id: string;
  subject?: string | null;
  from?: GraphRecipient | null;
  sender?: GraphRecipient | null;
  toRecipients?: GraphRecipient[];
  ccRecipients?: GraphRecipient[];
  bccRecipients?: GraphRecipient[];
  receivedDateTime?: string | null;
  sentDateTime?: string | null;
  isRead?: boolean;
  isDraft?: boolean;
  flag?: { flagStatus?: string };
  importance?: string;
  hasAttachments?: boolean;
  internetMessageId?: string | null;
  conversationId?: string | null;
  bodyPreview?: string;
  parentFolderId?: string;
  changeKey?: string;
  '@removed'?: { reason?: string };
}

/** What MessageExtra needs (exchange/model.ts), and what tells a change apart. */
export const MESSAGE_SELECT = 'id,subject,from,sender,toRecipients,ccRecipients,bccRecipients,receivedDateTime,sentDateTime,isRead,isDraft,flag,importance,hasAttachments,internetMessageId,conversationId,bodyPreview,parentFolderId,changeKey';
export const FOLDER_SELECT = 'id,displayName,parentFolderId';

/** Folders a mailbox may have under these names (mailFolder has no wellKnownName in v1.0: asked by name). */
export const WELL_KNOWN_FOLDERS = ['inbox', 'drafts', 'sentitems', 'deleteditems', 'archive', 'junkemail', 'outbox'] as const;

export interface MailRequestOptions {
  /** Prefer: odata.maxpagesize (default 100). */
  pageSize?: number;
}

export type MailRequest = Omit<GraphRequest, 'method' | 'body' | 'headers'>;

/** The Prefer header of every mail request. */
export function mailHeaders(pageSize = 100): Record<string, string> {
  return { prefer: `odata.maxpagesize=${pageSize}, IdType="ImmutableId"` };
}

export type MailDeltaEvent<T> =
  /** A page: changed items, and removed ones with `@removed`. A round without a token lists everything. */
  | { kind: 'items'; items: T[] }
  /** The token expired (410 SyncStateNotFound): what follows is a full enumeration of the collection. */
  | { kind: 'resync'; reason: string }
  | { kind: 'done'; deltaLink: string };

const MAX_RESYNCS = 3;

/**
 * One delta collection page by page from `deltaLink`, or from `first` when null; on 410 a new
 * round without a token (Outlook gives no Location), announced by a 'resync' event.
 */
async function* outlookDelta<T>(graph: GraphClient, first: string, deltaLink: string | null, req: MailRequest, options: MailRequestOptions): AsyncGenerator<MailDeltaEvent<T>> {
  let start = deltaLink ?? first;
  const request: GraphRequest = { ...req, headers: mailHeaders(options.pageSize) };
  for (let resyncs = 0; ; resyncs++) {
    try {
      for await (const page of graph.pages<T>(start, request)) {
        if (page.items.length) yield { kind: 'items', items: page.items };
        if (page.deltaLink) {
          yield { kind: 'done', deltaLink: page.deltaLink };
          return;
        }
      }
      throw new Error(`${req.what}: the delta enumeration ended without a delta link`);
    } catch (err) {
      if (!(err instanceof ResyncRequiredError) || resyncs >= MAX_RESYNCS) throw err;
      yield { kind: 'resync', reason: err.detail ?? 'SyncStateNotFound' };
      start = first;
    }
  }
}

/** The folder hierarchy's changes since `deltaLink` (every folder when null), deleted folders with @removed. */
export function mailFolderDelta(graph: GraphClient, userPath: string, deltaLink: string | null, req: MailRequest, options: MailRequestOptions = {}): AsyncGenerator<MailDeltaEvent<MailFolder>> {
  return outlookDelta<MailFolder>(graph, `${userPath}/mailFolders/delta?$select=${FOLDER_SELECT}`, deltaLink, req, options);
}

/** A folder's message changes since `deltaLink` (every message when null); deleted or moved-out messages with @removed. */
export function messageDelta(graph: GraphClient, userPath: string, folderId: string, deltaLink: string | null, req: MailRequest, options: MailRequestOptions = {}): AsyncGenerator<MailDeltaEvent<GraphMessage>> {
  return outlookDelta<GraphMessage>(graph, `${userPath}/mailFolders/${encodeURIComponent(folderId)}/messages/delta?$select=${MESSAGE_SELECT}`, deltaLink, req, options);
}

/** The root of the folder tree (msgfolderroot, "Top of Information Store"): the parent of the top-level folders. */
export function mailRoot(graph: GraphClient, userPath: string, req: MailRequest): Promise<MailFolder> {
  return graph.json<MailFolder>(`${userPath}/mailFolders/msgfolderroot?$select=${FOLDER_SELECT}`, { ...req, headers: mailHeaders() });
}

/** A folder by id or well-known name. */
export function mailFolder(graph: GraphClient, userPath: string, ref: string, req: MailRequest): Promise<MailFolder> {
  return graph.json<MailFolder>(`${userPath}/mailFolders/${encodeURIComponent(ref)}?$select=${FOLDER_SELECT}`, { ...req, headers: mailHeaders() });
}

/** One message's fields (a retry of a message a previous backup could not store). */
export function getMessage(graph: GraphClient, userPath: string, id: string, req: MailRequest): Promise<GraphMessage> {
  return graph.json<GraphMessage>(`${userPath}/messages/${encodeURIComponent(id)}?$select=${MESSAGE_SELECT}`, { ...req, headers: mailHeaders() });
}

/**
 * Streams a message's MIME ($value) to `sink`, chunk by chunk with its backpressure; the
 * mailbox's concurrency slot is held until the body has been read. Returns the bytes.
 */
export async function streamMime(graph: GraphClient, userPath: string, id: string, req: MailRequest, sink: (chunk: Buffer) => Promise<void> | void): Promise<number> {
  return graph.send(`${userPath}/messages/${encodeURIComponent(id)}/$value`, { ...req, headers: mailHeaders() }, async (res) => {
    let bytes = 0;
    if (!res.body) return 0;
    for await (const part of res.body) {
      const chunk = Buffer.from(part as Uint8Array);
      bytes += chunk.length;
      await sink(chunk);
    }
    return bytes;
  });
}
