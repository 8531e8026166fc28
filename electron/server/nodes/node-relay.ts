/**
 * Calls into a node over its connection: a request/response (call.result) and byte streams
 * (stream.head, binary frames, stream.end). A stream's bytes are paced by credit: the node
 * sends at most what was granted, and more is granted only as the consumer reads, so a slow
 * HTTP client holds the node back instead of filling the server's memory.
 */
import type { Readable } from 'node:stream';
import { CreditedStreams, STREAM_WINDOW } from '../../../common/net/credited-streams.js';
import {
  NODE_CALL_RESULTS,
  STREAM_FRAME_HEADER,
  type CallError,
  type NodeCall,
  type NodeCallResult,
  type NodeToServer,
  type ServerToNode,
} from '../../../common/node-protocol.js';

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

type Send = (nodeId: number, message: ServerToNode) => boolean;

export class NodeRelay {
  private nextId = 1;
  private readonly calls = new Map<number, PendingCall>();
  /** Which node each open stream comes from. */
  private readonly streamNodes = new Map<number, number>();
  private readonly streams: CreditedStreams<StreamHead>;

  constructor(private readonly send: Send) {
    this.streams = new CreditedStreams<StreamHead>(
      (id, bytes) => this.toNodeOf(id, { type: 'stream.credit', callId: id, bytes }),
      (id) => {
        this.toNodeOf(id, { type: 'stream.cancel', callId: id });
        this.streamNodes.delete(id);
      },
    );
  }

  private toNodeOf(id: number, message: ServerToNode): void {
    const nodeId = this.streamNodes.get(id);
    if (nodeId !== undefined) this.send(nodeId, message);
  }

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
    this.streamNodes.set(callId, nodeId);
    const { head, body } = this.streams.open(callId);
    if (!this.send(nodeId, { type: 'mount.stream', callId, mountId, op, args, credit: STREAM_WINDOW })) {
      this.streams.drop(callId);
      this.streamNodes.delete(callId);
      throw offline();
    }
    return { head: await head, body };
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
        if (this.streamNodes.get(msg.callId) !== nodeId) return true;
        const { callId: _c, type: _t, ...head } = msg;
        this.streams.head(msg.callId, head);
        return true;
      }
      case 'stream.end': {
        if (this.streamNodes.get(msg.callId) !== nodeId) return true;
        this.streamNodes.delete(msg.callId);
        this.streams.end(msg.callId, msg.error ? toError(msg.error) : undefined, {});
        return true;
      }
      default:
        return false;
    }
  }

  /** Stream bytes from a node (a binary frame). */
  onFrame(nodeId: number, frame: Buffer): void {
    if (frame.length < STREAM_FRAME_HEADER) return;
    const id = frame.readUInt32BE(0);
    if (this.streamNodes.get(id) !== nodeId) return;
    this.streams.data(id, frame.subarray(STREAM_FRAME_HEADER));
  }

  /** The node's connection is gone: whatever waits on it fails. */
  nodeGone(nodeId: number): void {
    for (const [id, c] of this.calls) {
      if (c.nodeId !== nodeId) continue;
      this.calls.delete(id);
      clearTimeout(c.timer);
      c.reject(c.gone());
    }
    const ids = new Set([...this.streamNodes].filter(([, n]) => n === nodeId).map(([id]) => id));
    this.streams.failAll(offline, (id) => ids.has(id));
    for (const id of ids) this.streamNodes.delete(id);
  }
}

const offline = (): RelayError => new RelayError('NODE_OFFLINE', 'the node holding this mount is not connected');
const nodeOffline = (): RelayError => new RelayError('NODE_OFFLINE', 'the node is not connected');
const toError = (e: CallError): RelayError => new RelayError(e.code, e.message, e.path);
