import type { Logger } from 'pino';
import WebSocket from 'ws';
import { NODE_PROTOCOL_VERSION, ServerToNodeSchema, type NodeToServer, type ServerToNode } from '../../common/node-protocol.js';
import { PinnedAgent } from '../../common/net/pinned-agent.js';
import { collectCapabilities } from './capabilities.js';
import type { NodeMounts } from './mounts/node-mounts.js';
import type { NodeCalls } from './node-calls.js';
import type { NodeConfig } from './node-config.js';
import type { TaskHandler } from './task-handler.js';
import { TaskRunner } from './task-runner.js';

export interface NodeAgentOptions {
  config: NodeConfig;
  version: string;
  handlers: TaskHandler[];
  logger: Logger;
  /** The mounts MOUNT tasks hold open; the server browses them over this connection. */
  mounts?: NodeMounts;
  /** The reads the server asks for without a task (a VM's snapshots). */
  calls?: NodeCalls;
  /** Exports still waiting for their STORE are ended when the node stops (a qemu-nbd would keep a shut-off VM from starting). */
  exports?: { endAll(): Promise<void>; endForTask(taskId: number): Promise<string[]> };
  /** Reconnect backoff bounds. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * The node's side of the server connection: connects out (so NAT is fine),
 * pins the server certificate, says hello with capabilities and running
 * tasks, sends heartbeats, runs assigned tasks, and reconnects with backoff.
 * Task outcomes are kept until the server acknowledges them, so a result
 * reached while disconnected is delivered after reconnecting.
 */
export class NodeAgent {
  private socket: WebSocket | undefined;
  private readonly runner: TaskRunner;
  private readonly unacked = new Map<number, NodeToServer>();
  private heartbeat: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private stopped = false;
  private readonly agent: PinnedAgent;
  private onlineResolvers: (() => void)[] = [];

  constructor(private readonly o: NodeAgentOptions) {
    this.backoffMs = o.minBackoffMs ?? 1000;
    this.agent = new PinnedAgent(o.config.fingerprint, { keepAlive: false });
    this.runner = new TaskRunner({
      stagingDir: o.config.stagingDir,
      handlers: o.handlers,
      logger: o.logger,
      send: (m) => this.send(m),
    });
    o.mounts?.connect(
      (m) => this.send(m),
      (frame) => {
        const ws = this.socket;
        if (!ws || ws.readyState !== WebSocket.OPEN) return false;
        ws.send(frame, { binary: true });
        return true;
      },
    );
  }

  start(): void {
    this.connect();
  }

  /** Resolves when the server has welcomed this node (for tests and `--wait`). */
  online(): Promise<void> {
    return new Promise((resolve) => this.onlineResolvers.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    // Mounts are closed in order (umount, loops, FUSE, server) before their tasks are ended.
    await this.o.mounts?.closeAll();
    this.runner.stopAll();
    await this.o.exports?.endAll();
    const s = this.socket;
    if (s && s.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.close(1001, 'node stopping');
        setTimeout(resolve, 2000).unref();
      });
    }
  }

  private connect(): void {
    if (this.stopped) return;
    const url = `${this.o.config.serverUrl.replace(/^https:/, 'wss:')}/api/node/connect`;
    const ws = new WebSocket(url, { agent: this.agent, headers: { authorization: `Bearer ${this.o.config.credential}` }, handshakeTimeout: 15_000 });
    this.socket = ws;
    ws.on('open', () => void this.hello(ws));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // Binary frames from the server: bytes of a restore pulled through it.
      if (isBinary) this.o.mounts?.pullFrame(data);
      else this.onMessage(data);
    });
    ws.on('unexpected-response', (_req, res) => {
      this.o.logger.error({ status: res.statusCode }, res.statusCode === 401 ? 'the server refused this node credential; enrol the node again' : 'the server refused the connection');
      // With this listener ws leaves the handshake open; end it, so 'close' schedules the retry
      // (left open, nothing keeps the event loop alive and the node process just exits).
      res.resume();
      ws.terminate();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.o.mounts?.disconnected();
      if (this.socket === ws) this.socket = undefined;
      if (this.stopped) return;
      this.o.logger.warn({ code, reason: reason.toString(), retryInMs: this.backoffMs }, 'disconnected from the server; reconnecting');
      this.scheduleReconnect();
    });
    ws.on('error', (err) => this.o.logger.warn({ err: err.message }, 'server connection error'));
  }

  private scheduleReconnect(): void {
    const jitter = Math.random() * 0.3 * this.backoffMs;
    this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs + jitter);
    this.backoffMs = Math.min(this.o.maxBackoffMs ?? 30_000, this.backoffMs * 2);
  }

  private async hello(ws: WebSocket): Promise<void> {
    const capabilities = await collectCapabilities(this.o.config.stagingDir, this.runner.taskTypes, this.o.config.maxConcurrentTasks);
    if (ws.readyState !== WebSocket.OPEN) return;
    // Finished-but-unacknowledged tasks are still ours: claim them, then deliver their outcomes.
    const held = [...new Set([...this.runner.runningIds(), ...this.unacked.keys()])];
    this.raw(ws, { type: 'hello', protocol: NODE_PROTOCOL_VERSION, version: this.o.version, capabilities, runningTaskIds: held });
    for (const m of this.unacked.values()) this.raw(ws, m);
    for (const m of this.o.mounts?.readyMessages() ?? []) this.raw(ws, m);
  }

  private onMessage(data: Buffer): void {
    let msg: ServerToNode;
    try {
      const parsed = ServerToNodeSchema.safeParse(JSON.parse(data.toString('utf8')));
      if (!parsed.success) return;
      msg = parsed.data;
    } catch {
      return;
    }
    switch (msg.type) {
      case 'welcome':
        this.backoffMs = this.o.minBackoffMs ?? 1000;
        this.o.logger.info({ nodeId: msg.nodeId, name: msg.name }, 'connected to the server');
        this.startHeartbeat(msg.heartbeatSeconds * 1000);
        for (const r of this.onlineResolvers.splice(0)) r();
        return;
      case 'task.assign':
        this.runner.start(msg.task);
        return;
      case 'task.cancel':
        this.runner.cancel(msg.taskId, msg.force);
        // An EXPORT cancelled after it finished here: nothing will read its export.
        if (this.o.exports) void this.o.exports.endForTask(msg.taskId).then((ids) => ids.forEach((id) => this.o.logger.warn({ taskId: msg.taskId, exportId: id }, 'ended the export of a cancelled EXPORT task')));
        return;
      case 'task.ack':
        this.unacked.delete(msg.taskId);
        return;
      case 'node.call':
        if (this.o.calls) void this.o.calls.answer(msg.call).then((a) => this.send({ type: 'call.result', callId: msg.callId, ...a }));
        else this.send({ type: 'call.result', callId: msg.callId, error: { code: 'NODE_CALL_UNSUPPORTED', message: `this node does not answer ${msg.call.op}; update it` } });
        return;
      case 'mount.call':
        if (this.o.mounts) void this.o.mounts.call(msg.callId, msg.mountId, msg.op, msg.args);
        else this.send({ type: 'call.result', callId: msg.callId, error: { code: 'MOUNT_NOT_OPEN', message: 'this node does not serve mounts' } });
        return;
      case 'mount.stream':
        if (this.o.mounts) void this.o.mounts.stream(msg.callId, msg.mountId, msg.op, msg.args, msg.credit);
        else this.send({ type: 'stream.end', callId: msg.callId, error: { code: 'MOUNT_NOT_OPEN', message: 'this node does not serve mounts' } });
        return;
      case 'stream.credit':
        this.o.mounts?.credit(msg.callId, msg.bytes);
        return;
      case 'stream.cancel':
        this.o.mounts?.cancel(msg.callId);
        return;
      case 'pull.head':
        this.o.mounts?.pullHead(msg.callId, { bytesTotal: msg.bytesTotal, entries: msg.entries });
        return;
      case 'pull.end':
        this.o.mounts?.pullEnd(msg.callId, msg.error);
        return;
    }
  }

  private startHeartbeat(everyMs: number): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    let beats = 0;
    this.heartbeat = setInterval(() => {
      beats += 1;
      // Refresh capabilities (free staging space) about once a minute.
      if (beats % Math.max(1, Math.round(60_000 / everyMs)) === 0) {
        void collectCapabilities(this.o.config.stagingDir, this.runner.taskTypes, this.o.config.maxConcurrentTasks).then((capabilities) =>
          this.send({ type: 'heartbeat', capabilities }),
        );
      } else {
        this.send({ type: 'heartbeat' });
      }
    }, everyMs);
  }

  private send(message: NodeToServer): boolean {
    if (message.type === 'task.finished') this.unacked.set(message.taskId, message);
    const ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    this.raw(ws, message);
    return true;
  }

  private raw(ws: WebSocket, message: NodeToServer): void {
    ws.send(JSON.stringify(message));
  }
}
