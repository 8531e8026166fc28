/**
 * The records a Mailbox holds (mailbox.model.ts): folders, messages with their attachments, what
 * a test seeds, and the change log behind delta (tombstones, delta rounds).
 */
import type { Address, MimeSpec } from './mime.js';

export interface MailFolderRecord {
  id: string;
  displayName: string;
  parentId: string;
  wellKnownName?: string;
  changeSeq: number;
}

export interface AttachmentRecord {
  id: string;
  name: string;
  contentType: string;
  isInline: boolean;
  contentId?: string;
  content: Buffer;
  lastModified: Date;
}

export interface MessageRecord {
  restId: string;
  immutableId: string;
  folderId: string;
  mime: Buffer;
  /** The stored MIME no longer shows the attachments (one was added later): rebuilt on $value. */
  mimeStale: boolean;
  subject: string;
  from?: Address;
  to: Address[];
  cc: Address[];
  bcc: Address[];
  replyTo: Address[];
  body: { contentType: 'html' | 'text'; content: string };
  bodyPreview: string;
  internetMessageId: string;
  createdDateTime: Date;
  lastModifiedDateTime: Date;
  receivedDateTime: Date;
  sentDateTime: Date;
  isRead: boolean;
  isDraft: boolean;
  flag: { flagStatus: 'notFlagged' | 'flagged' | 'complete' };
  attachments: AttachmentRecord[];
  version: number;
  changeSeq: number;
  /** When it came into its folder (created, or moved in): changeType=created versus updated. */
  createdSeq: number;
}

/** What a test seeds: a composed message, or raw MIME, with the state Exchange keeps beside it. */
export interface MessageSeed extends Partial<MimeSpec> {
  mime?: Buffer;
  isRead?: boolean;
  flagged?: boolean;
  isDraft?: boolean;
  receivedDateTime?: Date;
}

export interface Tombstone {
  scope: string;
  id: string;
  /** A message's immutable id, reported instead of its REST id under Prefer: IdType="ImmutableId". */
  immutableId?: string;
  seq: number;
}

/** One round of a delta enumeration: the ids its pages list, fixed when it started. */
export interface DeltaRound {
  scope: string;
  epoch: number;
  upTo: number;
  ids: { id: string; removed: boolean }[];
}

export interface ValueFailure {
  status: number;
  times: number;
}
