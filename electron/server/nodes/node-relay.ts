/**
 * Calls into a node over its connection: a request/response (call.result) and byte streams
 * (stream.head, binary frames, stream.end). A stream's bytes are paced by credit: the node
 * sends at most what was granted, and more is granted only as the consumer reads, so a slow
 * HTTP client holds the node back instead of filling the server's memory.
 */
import { Readable } from 'node:stream';
import {
  NODE_CALL_RESULTS,
  STREAM_FRAME_HEADER,
  type CallError,
  type NodeCall,
  type NodeCallResult,
  type NodeToServer,
  type ServerToNode,
} from '../../../common/node-protocol.js';

/** Credit window per stream. */
const WINDOW = 2 * 1024 * 1024;

export class RelayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'RelayError';
  }
}

export type StreamHead = Omit<Extract<NodeToServer, { type: 'stream.head' }>, 'type' | 'callId'>;

interface PendingCall {
  nodeId: number;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  /** The error when the node's connection goes: it names what was asked for. */
  gone(): RelayError;
}

interface PendingStream {
  nodeId: number;
  head: { resolve(h: StreamHead): void; reject(e: Error): void } | null;
  body: Readable;
  outstanding: number;
}

type Send = (nodeId: number, message: ServerToNode) => boolean;

export class NodeRelay {
  private nextId = 1;
  private readonly calls = new Map<number, PendingCall>();
  private readonly streams = new Map<number, PendingStream>();

  constructor(private readonly send: Send) {}

  call(nodeId: number, mountId: number, op: Extract<ServerToNode, { type: 'mount.call' }>['op'], args: Record<string, unknown>, timeoutMs = 60_000): Promise<unknown> {
    return this.request(nodeId, (callId) => ({ type: 'mount.call', callId, mountId, op, args }), timeoutMs, offline);
  }

  /**
   * A read on the node (no task): resolves with its answer in the op's shape, or rejects with
   * NODE_OFFLINE, NODE_TIMEOUT, the node's error, or NODE_BAD_ANSWER for an answer in another shape.
   */
  async nodeCall<C extends NodeCall>(nodeId: number, call: C, timeoutMs = 30_000): Promise<NodeCallResult<C['op']>> {
    const answer = await this.request(nodeId, (callId) => ({ type: 'node.call', callId, call }), timeoutMs, nodeOffline);
    const parsed = NODE_CALL_RESULTS[call.op].safeParse(answer);
    if (!parsed.success) throw new RelayError('NODE_BAD_ANSWER', `the node answered ${call.op} in a shape this server does not know; update the node`);
    // The schema was picked by the call's op, so the answer has that op's shape.
    return parsed.data as NodeCallResult<C['op']>;
  }

  private request(nodeId: number, message: (callId: number) => ServerToNode, timeoutMs: number, notConnected: () => RelayError): Promise<unknown> {
    const callId = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(callId);
        reject(new RelayError('NODE_TIMEOUT', `the node did not answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.calls.set(callId, { nodeId, resolve, reject, timer, gone: notConnected });
      if (!this.send(nodeId, message(callId))) {
        clearTimeout(timer);
        this.calls.delete(callId);
        reject(notConnected());
      }
    });
  }

  /** Opens a stream; resolves with its head (or rejects with the node's error) and the body to pipe. */
  async stream(nodeId: number, mountId: number, op: Extract<ServerToNode, { type: 'mount.stream' }>['op'], args: Record<string, unknown>): Promise<{ head: StreamHead; body: Readable }> {
    const callId = this.nextId++;
    const entry: PendingStream = {
      nodeId,
      head: null,
      outstanding: WINDOW,
      // A small buffer here: the window is what is in flight; the buffer adds at most this.
      body: new Readable({
        highWaterMark: 256 * 1024,
        read: () => {
          // The consumer wants more: top the node's credit back up to the window.
          if (entry.outstanding < WINDOW / 2 && this.streams.has(callId)) {
            const grant = WINDOW - entry.outstanding;
            entry.outstanding = WINDOW;
            this.send(nodeId, { type: 'stream.credit', callId, bytes: grant });
          }
        },
        destroy: (err, done) => {
          if (this.streams.delete(callId)) this.send(nodeId, { type: 'stream.cancel', callId });
          done(err);
        },
      }),
    };
    // Whoever pipes the body hears its errors; one that arrives when nobody does must not crash the server.
    entry.body.on('error', () => undefined);
    const head = new Promise<StreamHead>((resolve, reject) => (entry.head = { resolve, reject }));
    this.streams.set(callId, entry);
    if (!this.send(nodeId, { type: 'mount.stream', callId, mountId, op, args, credit: WINDOW })) {
      this.streams.delete(callId);
      throw offline();
    }
    return { head: await head, body: entry.body };
  }

  /** A message from a node about a call or a stream; false when it is not one. */
  onMessage(nodeId: number, msg: NodeToServer): boolean {
    switch (msg.type) {
      case 'call.result': {
        const c = this.calls.get(msg.callId);
        if (!c || c.nodeId !== nodeId) return true;
        this.calls.delete(msg.callId);
        clearTimeout(c.timer);
        if (msg.error) c.reject(toError(msg.error));
        else c.resolve(msg.result);
        return true;
      }
      case 'stream.head': {
        const s = this.streams.get(msg.callId);
        if (!s || s.nodeId !== nodeId) return true;
        const { callId: _c, type: _t, ...head } = msg;
        s.head?.resolve(head);
        s.head = null;
        return true;
      }
      case 'stream.end': {
        const s = this.streams.get(msg.callId);
        if (!s || s.nodeId !== nodeId) return true;
        this.streams.delete(msg.callId);
        if (msg.error) {
          const err = toError(msg.error);
          if (s.head) s.head.reject(err);
          else s.body.destroy(err);
        } else {
          s.head?.resolve({});
          s.body.push(null);
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** Stream bytes from a node (a binary frame). */
  onFrame(nodeId: number, frame: Buffer): void {
    if (frame.length < STREAM_FRAME_HEADER) return;
    const s = this.streams.get(frame.readUInt32BE(0));
    if (!s || s.nodeId !== nodeId) return;
    const data = frame.subarray(STREAM_FRAME_HEADER);
    s.outstanding -= data.length;
    s.body.push(data);
  }

  /** The node's connection is gone: whatever waits on it fails. */
  nodeGone(nodeId: number): void {
    for (const [id, c] of this.calls) {
      if (c.nodeId !== nodeId) continue;
      this.calls.delete(id);
      clearTimeout(c.timer);
      c.reject(c.gone());
    }
    for (const [id, s] of this.streams) {
      if (s.nodeId !== nodeId) continue;
      this.streams.delete(id);
      if (s.head) s.head.reject(offline());
      else s.body.destroy(offline());
    }
  }
}

const offline = (): RelayError => new RelayError('NODE_OFFLINE', 'the node holding this mount is not connected');
const nodeOffline = (): RelayError => new RelayError('NODE_OFFLINE', 'the node is not connected');
const toError = (e: CallError): RelayError => new RelayError(e.code, e.message, e.path);
