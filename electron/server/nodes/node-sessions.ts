import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { NodeCapabilities } from '../../../common/api/nodes.js';
import { NODE_PROTOCOL_VERSION, NodeToServerSchema, type NodeToServer, type ServerToNode } from '../../../common/node-protocol.js';
import type { EventBus } from '../events/event-bus.js';
import type { TaskEngine } from '../tasks/task-engine.service.js';
import type { TasksRepository } from '../tasks/tasks.repository.js';
import type { NodeChannel, NodeDirectory } from '../tasks/task-types.js';
import { NodeRelay } from './node-relay.js';
import { toNode, type NodeRow, type NodesRepository } from './nodes.repository.js';

export type MountReady = Extract<NodeToServer, { type: 'mount.ready' }>;
export type PullMessage = Extract<NodeToServer, { type: 'pull.open' | 'pull.credit' | 'pull.cancel' }>;

/** Who serves the pulls of restores to other nodes (the mounts service). */
export interface PullListener {
  message(nodeId: number, msg: PullMessage): Promise<void>;
  nodeGone(nodeId: number): void;
}

export interface NodeTiming {
  heartbeatMs: number;
  /** After a disconnect, how long the node may take to come back before its tasks are lost. */
  lossTimeoutMs: number;
}

interface Session extends NodeChannel {
  socket: WebSocket;
  lastMessageAt: number;
  lastTouchAt: number;
}

/**
 * The live connections of nodes (they connect out to us over a WebSocket).
 * Tracks liveness by heartbeats, forwards task reports to the task engine,
 * and tells it when a node is gone for good.
 */
export class NodeSessions implements NodeDirectory {
  private readonly sessions = new Map<number, Session>();
  private readonly lossTimers = new Map<number, NodeJS.Timeout>();
  private engine: TaskEngine | undefined;
  private readonly monitor: NodeJS.Timeout;
  /** Calls and byte streams into the nodes' mounts. */
  readonly relay = new NodeRelay((nodeId, message) => this.sessions.get(nodeId)?.send(message) ?? false);
  private mountReady: (nodeId: number, msg: MountReady) => Promise<void> = async () => undefined;
  private pulls: PullListener | undefined;

  constructor(
    private readonly nodes: NodesRepository,
    private readonly tasks: TasksRepository,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly timing: NodeTiming,
  ) {
    this.monitor = setInterval(() => this.checkHeartbeats(), Math.max(100, timing.heartbeatMs));
    this.monitor.unref();
  }

  bindEngine(engine: TaskEngine): void {
    this.engine = engine;
  }

  /** Who hears that a node's MOUNT task has its mount open (the mounts service). */
  onMountReady(listener: (nodeId: number, msg: MountReady) => Promise<void>): void {
    this.mountReady = listener;
  }

  onPull(listener: PullListener): void {
    this.pulls = listener;
  }

  /** Bytes to a node (a binary frame: call id, then data); false when it is not connected. */
  sendFrame(nodeId: number, frame: Buffer): boolean {
    const socket = this.sessions.get(nodeId)?.socket;
    if (!socket || socket.readyState !== socket.OPEN) return false;
    socket.send(frame, { binary: true });
    return true;
  }

  connected(): NodeChannel[] {
    return [...this.sessions.values()];
  }

  get(nodeId: number): NodeChannel | undefined {
    return this.sessions.get(nodeId);
  }

  /** A node's socket, authenticated by its credential; it must say hello first. */
  attach(socket: WebSocket, node: Pick<NodeRow, 'id' | 'name'>): void {
    const log = this.logger.child({ node: node.name });
    let session: Session | undefined;
    const helloTimer = setTimeout(() => {
      if (!session) socket.close(4000, 'no hello');
    }, 10_000);

    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (session) {
          session.lastMessageAt = Date.now();
          this.relay.onFrame(session.nodeId, data);
        }
        return;
      }
      let msg: NodeToServer;
      try {
        const parsed = NodeToServerSchema.safeParse(JSON.parse(data.toString('utf8')));
        if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid message');
        msg = parsed.data;
      } catch (err) {
        log.warn({ err }, 'ignoring an invalid message from a node');
        return;
      }
      if (msg.type === 'hello') {
        clearTimeout(helloTimer);
        if (msg.protocol !== NODE_PROTOCOL_VERSION) {
          socket.close(4001, `protocol ${msg.protocol} is not supported; upgrade the node`);
          return;
        }
        session = this.open(socket, node, msg.capabilities);
        void this.onHello(session, msg.version, msg.capabilities, msg.runningTaskIds).catch((err: unknown) => log.error({ err }, 'hello handling failed'));
        return;
      }
      if (!session) return;
      session.lastMessageAt = Date.now();
      if (this.relay.onMessage(session.nodeId, msg)) return;
      void this.onMessage(session, msg).catch((err: unknown) => log.error({ err, type: msg.type }, 'node message handling failed'));
    });
    socket.on('close', (code: number, reason: Buffer) => {
      clearTimeout(helloTimer);
      if (session) this.onClose(session, code, reason.toString());
    });
    socket.on('error', (err) => log.warn({ err }, 'node connection error'));
  }

  async closeAll(): Promise<void> {
    clearInterval(this.monitor);
    for (const t of this.lossTimers.values()) clearTimeout(t);
    this.lossTimers.clear();
    for (const s of this.sessions.values()) s.socket.close(1001, 'server shutting down');
    this.sessions.clear();
  }

  /** Ends a node's connection, e.g. when it is removed. */
  disconnect(nodeId: number, reason: string): void {
    this.sessions.get(nodeId)?.socket.close(4002, reason);
  }

  private open(socket: WebSocket, node: Pick<NodeRow, 'id' | 'name'>, capabilities: NodeCapabilities): Session {
    const previous = this.sessions.get(node.id);
    const session: Session = {
      nodeId: node.id,
      name: node.name,
      capabilities,
      socket,
      lastMessageAt: Date.now(),
      lastTouchAt: Date.now(),
      send: (message: ServerToNode) => {
        if (socket.readyState !== socket.OPEN) return false;
        socket.send(JSON.stringify(message));
        return true;
      },
    };
    this.sessions.set(node.id, session);
    if (previous && previous.socket !== socket) previous.socket.close(4003, 'replaced by a newer connection');
    const timer = this.lossTimers.get(node.id);
    if (timer) clearTimeout(timer);
    this.lossTimers.delete(node.id);
    return session;
  }

  private async onHello(s: Session, version: string, capabilities: NodeCapabilities, running: number[]): Promise<void> {
    s.send({ type: 'welcome', nodeId: s.nodeId, name: s.name, heartbeatSeconds: this.timing.heartbeatMs / 1000 });
    await this.nodes.markOnline(s.nodeId, { version, capabilities });
    this.logger.info({ node: s.name, version, running }, 'node online');
    await this.publish(s.nodeId);
    await this.engine?.nodeConnected(s.nodeId, running);
  }

  private async onMessage(s: Session, msg: NodeToServer): Promise<void> {
    const engine = this.engine;
    switch (msg.type) {
      case 'heartbeat':
        if (msg.capabilities) s.capabilities = msg.capabilities;
        if (msg.capabilities || Date.now() - s.lastTouchAt > 30_000) {
          s.lastTouchAt = Date.now();
          await this.nodes.touch(s.nodeId, msg.capabilities);
        }
        return;
      case 'task.progress':
        engine?.progress(msg.taskId, msg.bytesDone, msg.bytesTotal, msg.message ?? null);
        return;
      case 'task.log':
        await engine?.appendLog(msg.taskId, msg.level, msg.message);
        return;
      case 'task.finished':
        await engine?.complete(msg.taskId, s.nodeId, {
          state: msg.state,
          error: msg.error ?? null,
          warnings: msg.warnings ?? [],
          result: msg.result ?? null,
        });
        s.send({ type: 'task.ack', taskId: msg.taskId });
        await this.publish(s.nodeId);
        return;
      case 'mount.ready':
        await this.mountReady(s.nodeId, msg);
        return;
      case 'pull.open':
      case 'pull.credit':
      case 'pull.cancel':
        await this.pulls?.message(s.nodeId, msg);
        return;
      case 'hello':
      case 'call.result':
      case 'stream.head':
      case 'stream.end':
        return;
    }
  }

  private onClose(s: Session, code: number, reason: string): void {
    if (this.sessions.get(s.nodeId) !== s) return; // replaced by a newer connection
    this.sessions.delete(s.nodeId);
    this.relay.nodeGone(s.nodeId);
    this.pulls?.nodeGone(s.nodeId);
    const at = new Date().toISOString();
    this.logger.warn({ node: s.name, code, reason }, 'node disconnected');
    void this.nodes
      .setStatus(s.nodeId, 'offline', `disconnected at ${at}${reason ? ` (${reason})` : ''}`)
      .then(() => this.publish(s.nodeId))
      .catch((err: unknown) => this.logger.warn({ err, node: s.name }, 'could not record that the node went offline'));
    const seconds = Math.round(this.timing.lossTimeoutMs / 100) / 10;
    const timer = setTimeout(() => {
      this.lossTimers.delete(s.nodeId);
      if (this.sessions.has(s.nodeId)) return;
      void this.engine?.nodeLost(s.nodeId, `${s.name} disconnected at ${at} and did not reconnect within ${seconds}s`).catch((err: unknown) =>
        this.logger.error({ err }, 'could not fail the tasks of a lost node'),
      );
    }, this.timing.lossTimeoutMs);
    timer.unref();
    this.lossTimers.set(s.nodeId, timer);
  }

  /** Three missed heartbeats: the connection is dead even if TCP has not noticed. */
  private checkHeartbeats(): void {
    const limit = this.timing.heartbeatMs * 3;
    for (const s of this.sessions.values()) {
      if (Date.now() - s.lastMessageAt > limit) {
        this.logger.warn({ node: s.name }, 'no heartbeat from node; dropping its connection');
        s.socket.terminate();
      }
    }
  }

  private async publish(nodeId: number): Promise<void> {
    const row = await this.nodes.byId(nodeId);
    if (!row) return;
    const running = (await this.tasks.runningCounts()).get(nodeId) ?? 0;
    this.bus.publish({ type: 'node', node: toNode(row, running) });
  }
}
