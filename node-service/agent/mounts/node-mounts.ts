/**
 * The mounts open on this node (each held by a running MOUNT task), and the server's calls
 * into them: listing, stat, search, extend and close answered as call.result; file reads and
 * zips streamed as binary frames paced by the server's credit.
 *
 * Paths from the server start with the filesystem's name ('vda1/etc/hosts'); '' is the
 * mount's root, one directory per filesystem. Each filesystem's own path is then resolved by
 * its volume's tree (mount/volume-tree.ts): inside its mount point by browse.ts (no '..', no
 * symlink out), or in a Microsoft 365 backup point's metadata (cloud/point-tree.ts).
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import {
  BrowseListQuerySchema,
  BrowseSearchRequestSchema,
  MountPathSchema,
  type BrowseEntry,
  type BrowseListing,
  type BrowseSearchResult,
  type MountFilesystem,
} from '../../../common/api/mounts.js';
import type { CallError, NodeToServer } from '../../../common/node-protocol.js';
import { MountExtendRequestSchema } from '../../../common/api/mounts.js';
import { z } from 'zod';
import { entryTotals } from '../../mount/archive-entries.js';
import { BrowseError } from '../../mount/browse.js';
import type { MountedVolume } from '../../mount/mount-session.js';
import { DirectoryTree, type VolumeTree } from '../../mount/volume-tree.js';
import { zipEntries } from '../../mount/zip-stream.js';
import { CreditSink } from '../../../common/net/credit-sink.js';
import { CreditedStreams, STREAM_WINDOW } from '../../../common/net/credited-streams.js';
import { STREAM_FRAME_HEADER } from '../../../common/node-protocol.js';
import { tarEntries } from '../../mount/tar-transfer.js';
import { ExchangeOpError, ExchangeOps, type ExchangeVolumeInfo } from './exchange-ops.js';

export type CloseReason = 'user' | 'idle' | 'node';

/**
 * A volume of a mount: a filesystem mounted in a directory (`path`), or one whose files are
 * read some other way (`tree`, e.g. a part of a Microsoft 365 backup, kind 'm365-drive',
 * 'm365-mail', 'm365-calendar', 'm365-contacts'; an Exchange part has `exchange` too).
 */
export type MountVolume = Omit<MountedVolume, 'kind' | 'type'> & { kind: string; type: string | null; tree?: VolumeTree; exchange?: ExchangeVolumeInfo };

/** The mail browser's questions and streams (exchange-ops.ts). */
const EXCHANGE_CALLS = new Set(['mail.search', 'mail.message', 'calendar.events', 'contacts.list']);
const EXCHANGE_STREAMS = new Set(['mail.preview', 'mail.attachment', 'export']);

export interface OpenMount {
  mountId: number;
  taskId: number;
  volumes: readonly MountVolume[];
  idleSeconds: number;
  lastUsedAt: number;
  openedAt: Date;
  /** Asks the MOUNT task holding it to close it. */
  requestClose(reason: CloseReason): void;
  /** Each readable volume's tree, made when first used (a directory's reads its owner names once). */
  trees: Map<string, VolumeTree>;
  /** Its idle timeout has asked it to close (asked once). */
  idleClosing?: boolean;
  /** What the server was told when it opened (told again after a reconnect). */
  ready: Extract<NodeToServer, { type: 'mount.ready' }>;
}

type Send = (message: NodeToServer) => boolean;
type SendFrame = (frame: Buffer) => boolean;

export class MountCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

const ReadArgs = z.object({ path: MountPathSchema, start: z.number().int().min(0).optional(), end: z.number().int().min(0).optional() });
const ZipArgs = z.object({ paths: z.array(MountPathSchema).min(1).max(10_000) });
const StatArgs = z.object({ path: MountPathSchema });

function parse<T>(schema: ZodType<T>, args: unknown): T {
  const r = schema.safeParse(args);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new MountCallError('INVALID_ARGUMENT', `${issue?.path.join('.') || 'args'}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

export function toFilesystem(v: MountVolume): MountFilesystem {
  return {
    name: v.name,
    disk: v.disk,
    kind: v.kind,
    type: v.type,
    ...(v.label === undefined ? {} : { label: v.label }),
    size: v.size,
    readable: v.readable,
    ...(v.reason === undefined ? {} : { reason: v.reason }),
  };
}

export class NodeMounts {
  private readonly open = new Map<number, OpenMount>();
  /** Mounts whose MOUNT task has not finished closing them yet. */
  private readonly held = new Map<number, () => void>();
  private readonly streams = new Map<number, { sink: CreditSink; abort: AbortController }>();
  private send: Send = () => false;
  /** Selections of mounts on other nodes, pulled through the server by FILE_RESTORE tasks here. */
  private readonly pulls = new CreditedStreams<{ bytesTotal: number; entries: number }>(
    (callId, bytes) => this.send({ type: 'pull.credit', callId, bytes }),
    (callId) => this.send({ type: 'pull.cancel', callId }),
  );
  private nextPull = 1;
  private sendFrame: SendFrame = () => false;
  private readonly idleTimer: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    options: { idleCheckMs?: number } = {},
  ) {
    this.idleTimer = setInterval(() => this.closeIdle(), options.idleCheckMs ?? 15_000);
    this.idleTimer.unref();
  }

  /** The server connection (NodeAgent): how results and frames go out. */
  connect(send: Send, sendFrame: SendFrame): void {
    this.send = send;
    this.sendFrame = sendFrame;
  }

  /** The connection dropped: streams in flight have no reader any more. */
  disconnected(): void {
    this.pulls.failAll(() => new MountCallError('NODE_OFFLINE', 'the connection to the server dropped during the restore'));
    for (const [id, s] of this.streams) {
      s.abort.abort();
      s.sink.destroy(new Error('the server connection closed'));
      this.streams.delete(id);
    }
  }

  register(m: Omit<OpenMount, 'lastUsedAt' | 'openedAt' | 'trees' | 'ready'>, iscsi?: Extract<NodeToServer, { type: 'mount.ready' }>['iscsi']): void {
    const ready: OpenMount['ready'] = { type: 'mount.ready', taskId: m.taskId, mountId: m.mountId, filesystems: m.volumes.map(toFilesystem), ...(iscsi ? { iscsi } : {}) };
    this.open.set(m.mountId, { ...m, lastUsedAt: Date.now(), openedAt: new Date(), trees: new Map(), ready });
    this.held.set(m.mountId, () => m.requestClose('node'));
    this.send(ready);
  }

  /** The open mounts as the server must know them (after a reconnect); CHAP secrets are not repeated. */
  readyMessages(): NodeToServer[] {
    return [...this.open.values()].map((m) => {
      const { iscsi, ...rest } = m.ready;
      return iscsi ? { ...rest, iscsi: { ...iscsi, chapPassword: '' } } : rest;
    });
  }

  /** Closing: no more calls reach it. */
  unregister(mountId: number): void {
    this.open.delete(mountId);
  }

  /** Its MOUNT task has cleaned it up. */
  released(mountId: number): void {
    this.held.delete(mountId);
  }

  get(mountId: number): OpenMount {
    const m = this.open.get(mountId);
    if (!m) throw new MountCallError('MOUNT_NOT_OPEN', `mount ${mountId} is not open on this node (it was closed, or the node restarted)`);
    m.lastUsedAt = Date.now();
    return m;
  }

  /** Closes every mount (the node is stopping) and waits, up to `timeoutMs`, until each is cleaned up. */
  async closeAll(timeoutMs = 20_000): Promise<void> {
    clearInterval(this.idleTimer);
    for (const close of this.held.values()) close();
    const until = Date.now() + timeoutMs;
    while (this.held.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  /** A filesystem of a mount and the path inside it, from a mount path ('vda1/etc'); `root` when it is a local directory. */
  locate(m: OpenMount, mountPath: string): { volume: MountVolume; tree: VolumeTree; root: string | null; rel: string } {
    const clean = mountPath.replace(/^\/+/, '').replace(/\/+$/, '');
    const slash = clean.indexOf('/');
    const name = slash < 0 ? clean : clean.slice(0, slash);
    const rel = slash < 0 ? '' : clean.slice(slash + 1);
    const volume = m.volumes.find((v) => v.name === name);
    if (!volume) throw new MountCallError('NOT_FOUND', `there is no filesystem "${name}" in this mount (it has ${m.volumes.map((v) => v.name).join(', ') || 'none'})`, mountPath);
    const tree = this.treeOf(m, volume);
    if (!tree) throw new MountCallError('NOT_READABLE', `${name} cannot be browsed: ${volume.reason ?? 'not readable'}`, mountPath);
    return { volume, tree, root: volume.tree ? null : (volume.path ?? null), rel };
  }

  private exchangeOps(m: OpenMount): ExchangeOps {
    return new ExchangeOps((p) => this.locate(m, p));
  }

  private treeOf(m: OpenMount, volume: MountVolume): VolumeTree | null {
    if (!volume.readable) return null;
    if (volume.tree) return volume.tree;
    if (!volume.path) return null;
    let t = m.trees.get(volume.name);
    if (!t) {
      t = new DirectoryTree(volume.path);
      m.trees.set(volume.name, t);
    }
    return t;
  }

  async call(callId: number, mountId: number, op: string, args: Record<string, unknown>): Promise<void> {
    try {
      const result = await this.answer(mountId, op, args);
      this.send({ type: 'call.result', callId, result });
    } catch (err) {
      this.send({ type: 'call.result', callId, error: callError(err) });
    }
  }

  private async answer(mountId: number, op: string, args: Record<string, unknown>): Promise<unknown> {
    const m = this.get(mountId);
    switch (op) {
      case 'list': {
        const q = parse(BrowseListQuerySchema, args);
        if (q.path.replace(/^\/+|\/+$/g, '') === '') return this.rootListing(m, q.offset, q.limit);
        const { volume, tree, rel } = this.locate(m, q.path);
        const listing = await tree.list(rel, { offset: q.offset, limit: q.limit, sort: q.sort, order: q.order });
        return { ...listing, path: join(volume.name, listing.path) } satisfies BrowseListing;
      }
      case 'stat': {
        const q = parse(StatArgs, args);
        const { volume, tree, rel } = this.locate(m, q.path);
        const st = await tree.stat(rel);
        return { ...st, path: join(volume.name, st.path) };
      }
      case 'search': {
        const q = parse(BrowseSearchRequestSchema, args);
        if (q.path.replace(/^\/+|\/+$/g, '') === '') return this.searchAll(m, q.pattern, q.limit);
        const { volume, tree, rel } = this.locate(m, q.path);
        const r = await tree.search(rel, q.pattern, { limit: q.limit });
        return { ...r, hits: r.hits.map((h) => ({ ...h, path: join(volume.name, h.path) })) };
      }
      case 'extend': {
        const q = parse(MountExtendRequestSchema, args);
        m.idleSeconds = q.idleSeconds;
        return { idleSeconds: m.idleSeconds };
      }
      case 'close':
        m.requestClose('user');
        return { closing: true };
      default:
        if (EXCHANGE_CALLS.has(op)) return this.exchangeOps(m).call(op, args);
        throw new MountCallError('INVALID_ARGUMENT', `unknown operation ${op}`);
    }
  }

  /** From the mount's root: each readable filesystem in turn, up to `limit` hits in all. */
  private async searchAll(m: OpenMount, pattern: string, limit: number): Promise<BrowseSearchResult> {
    const out: BrowseSearchResult = { hits: [], visited: 0, truncated: false };
    for (const volume of m.volumes) {
      const tree = this.treeOf(m, volume);
      if (!tree) continue;
      const left = limit - out.hits.length;
      if (left <= 0) {
        out.truncated = true;
        break;
      }
      const r = await tree.search('', pattern, { limit: left });
      out.hits.push(...r.hits.map((h) => ({ ...h, path: join(volume.name, h.path) })));
      out.visited += r.visited;
      out.truncated ||= r.truncated;
    }
    return out;
  }

  private rootListing(m: OpenMount, offset: number, limit: number): BrowseListing {
    const entries: BrowseEntry[] = m.volumes.map((v) => ({
      name: v.name,
      type: v.readable ? 'dir' : 'other',
      size: v.size,
      mtime: m.openedAt.toISOString(),
      mode: 0o555,
      uid: 0,
      gid: 0,
    }));
    return { path: '', entries: entries.slice(offset, offset + limit), total: entries.length, truncated: false };
  }

  async stream(callId: number, mountId: number, op: string, args: Record<string, unknown>, credit: number): Promise<void> {
    const abort = new AbortController();
    const sink = new CreditSink(callId, credit, this.sendFrame);
    this.streams.set(callId, { sink, abort });
    try {
      const m = this.get(mountId);
      if (op === 'read') {
        const q = parse(ReadArgs, args);
        const { tree, rel } = this.locate(m, q.path);
        const opened = await tree.openRead(rel, { ...(q.start === undefined ? {} : { start: q.start }), ...(q.end === undefined ? {} : { end: q.end }) });
        this.send({ type: 'stream.head', callId, size: opened.size, start: opened.start, end: opened.end, mtime: opened.entry.mtime });
        await pipeline(opened.stream, sink, { signal: abort.signal });
      } else if (op === 'zip') {
        const q = parse(ZipArgs, args);
        const located = q.paths.map((p) => this.locate(m, p));
        const first = located[0]!;
        if (located.some((l) => l.volume !== first.volume)) throw new MountCallError('INVALID_ARGUMENT', 'a zip takes paths from one filesystem; download each filesystem on its own');
        // Resolves every path before the first byte: an escape refuses the whole zip.
        const keepAlive = setInterval(() => (m.lastUsedAt = Date.now()), 10_000);
        try {
          let headSent = false;
          const head = () => {
            if (!headSent) this.send({ type: 'stream.head', callId });
            headSent = true;
          };
          sink.once('pipe', head);
          const entries = await first.tree.selection(
            located.map((l) => l.rel),
            abort.signal,
          );
          await zipEntries(entries, sink, { signal: abort.signal, onProgress: head });
          head();
        } finally {
          clearInterval(keepAlive);
        }
      } else if (op === 'tar') {
        const q = parse(ZipArgs, args);
        const located = q.paths.map((p) => this.locate(m, p));
        const first = located[0]!;
        if (located.some((l) => l.volume !== first.volume)) throw new MountCallError('INVALID_ARGUMENT', 'a restore takes paths from one filesystem; restore each filesystem on its own');
        const rels = located.map((l) => l.rel);
        const totals = await entryTotals(await first.tree.selection(rels, abort.signal));
        this.send({ type: 'stream.head', callId, size: totals.bytes, entries: totals.entries });
        const keepAlive = setInterval(() => (m.lastUsedAt = Date.now()), 10_000);
        try {
          await tarEntries(await first.tree.selection(rels, abort.signal), sink, { signal: abort.signal });
        } finally {
          clearInterval(keepAlive);
        }
      } else if (EXCHANGE_STREAMS.has(op)) {
        // Every path is resolved, and the content a preview or an attachment needs read, before the head.
        const opened = await this.exchangeOps(m).stream(op, args);
        this.send({ type: 'stream.head', callId, ...opened.head });
        const keepAlive = setInterval(() => (m.lastUsedAt = Date.now()), 10_000);
        try {
          await opened.write(sink, abort.signal);
          await new Promise<void>((resolve, reject) => {
            sink.once('error', reject);
            sink.end(() => resolve());
          });
        } finally {
          clearInterval(keepAlive);
        }
      } else {
        throw new MountCallError('INVALID_ARGUMENT', `unknown stream ${op}`);
      }
      this.send({ type: 'stream.end', callId });
    } catch (err) {
      if (!abort.signal.aborted) this.send({ type: 'stream.end', callId, error: callError(err) });
      sink.destroy();
    } finally {
      this.streams.delete(callId);
    }
  }

  /** Is the mount open on this node? (Else a restore from it is pulled through the server.) */
  isOpen(mountId: number): boolean {
    return this.open.has(mountId);
  }

  /** A selection of a mount another node holds, as a tar relayed by the server. */
  async pull(taskId: number, mountId: number, paths: string[]): Promise<{ head: { bytesTotal: number; entries: number }; body: Readable }> {
    const callId = this.nextPull++;
    const { head, body } = this.pulls.open(callId);
    if (!this.send({ type: 'pull.open', callId, taskId, mountId, paths, credit: STREAM_WINDOW })) {
      this.pulls.drop(callId);
      throw new MountCallError('NODE_OFFLINE', 'not connected to the server');
    }
    return { head: await head, body };
  }

  pullHead(callId: number, head: { bytesTotal: number; entries: number }): void {
    this.pulls.head(callId, head);
  }

  pullEnd(callId: number, error?: CallError): void {
    this.pulls.end(callId, error ? new MountCallError(error.code, error.message, error.path) : undefined);
  }

  pullFrame(frame: Buffer): void {
    if (frame.length >= STREAM_FRAME_HEADER) this.pulls.data(frame.readUInt32BE(0), frame.subarray(STREAM_FRAME_HEADER));
  }

  credit(callId: number, bytes: number): void {
    this.streams.get(callId)?.sink.addCredit(bytes);
  }

  cancel(callId: number): void {
    const s = this.streams.get(callId);
    if (!s) return;
    s.abort.abort();
    s.sink.destroy(new Error('cancelled by the server'));
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const m of this.open.values()) {
      if (!m.idleClosing && now - m.lastUsedAt > m.idleSeconds * 1000) {
        m.idleClosing = true;
        this.logger.info({ mountId: m.mountId, idleSeconds: m.idleSeconds }, 'closing an idle mount');
        m.requestClose('idle');
      }
    }
  }
}

const join = (fs: string, rel: string): string => (rel === '' ? fs : `${fs}/${rel}`);

export function callError(err: unknown): CallError {
  if (err instanceof BrowseError) return { code: err.code, message: err.message, path: err.path };
  if (err instanceof MountCallError || err instanceof ExchangeOpError) return { code: err.code, message: err.message, ...(err.path === undefined ? {} : { path: err.path }) };
  const e = err as NodeJS.ErrnoException;
  return { code: e.code ?? 'NODE_ERROR', message: e.message ?? String(err) };
}
