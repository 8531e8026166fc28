import type https from 'node:https';
import WebSocket from 'ws';
import { ServerEventSchema, type ServerEvent } from '../../common/api/index.js';
import { errorMessage } from '../errors.js';

/**
 * The server's live events (/api/events) as the CLI consumes them: events in
 * the order they arrived, then one close. Kept behind this interface so the
 * wait loop can be driven by a fake in tests.
 */
export interface EventStream {
  /** Receives every event, starting with any that arrived before it was set. */
  onEvent(listener: (event: ServerEvent) => void): void;
  /** Called once when the stream ends on its own (not after close()). */
  onClose(listener: (reason: string) => void): void;
  close(): void;
}

export interface EventStreamOptions {
  /** wss://host:port/api/events */
  url: string;
  /** The same pinned agent the REST calls use: the socket trusts only the pinned certificate. */
  agent: https.Agent;
  token: string | undefined;
  handshakeTimeoutMs?: number;
}

/**
 * Opens the WebSocket and resolves once the server accepted it (which it
 * does only after authenticating the bearer token). Rejects with a short
 * reason when it cannot: the caller falls back to polling.
 */
export function openEventStream(options: EventStreamOptions): Promise<EventStream> {
  const ws = new WebSocket(options.url, {
    agent: options.agent,
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    // The events are small JSON messages; refuse anything absurd.
    maxPayload: 16 * 1024 * 1024,
  });
  const pending: ServerEvent[] = [];
  let eventListener: ((event: ServerEvent) => void) | undefined;
  let closeListener: ((reason: string) => void) | undefined;
  let closedByUs = false;
  let lastError: string | undefined;

  ws.on('message', (data: WebSocket.RawData) => {
    let raw: unknown;
    try {
      raw = JSON.parse(rawText(data));
    } catch {
      return; // not JSON: nothing this client understands
    }
    // Events of kinds this CLI does not know (a newer server) are skipped.
    const parsed = ServerEventSchema.safeParse(raw);
    if (!parsed.success) return;
    if (eventListener) eventListener(parsed.data);
    else pending.push(parsed.data);
  });
  // Always listened to: an 'error' without a listener would crash the process.
  ws.on('error', (err) => {
    lastError = errorMessage(err);
  });

  const stream: EventStream = {
    onEvent(listener) {
      eventListener = listener;
      for (const event of pending.splice(0)) listener(event);
    },
    onClose(listener) {
      closeListener = listener;
    },
    close() {
      closedByUs = true;
      ws.terminate();
    },
  };

  return new Promise<EventStream>((resolve, reject) => {
    let opened = false;
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      reject(new Error(`the server answered the WebSocket upgrade with HTTP ${res.statusCode ?? '?'}`));
      ws.terminate();
    });
    ws.once('open', () => {
      opened = true;
      resolve(stream);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (!opened) {
        reject(new Error(lastError ?? `the WebSocket closed before it opened (code ${code})`));
        return;
      }
      if (closedByUs) return;
      const why = lastError ?? (reason.length > 0 ? reason.toString('utf8') : `closed with code ${code}`);
      closeListener?.(why);
    });
  });
}

function rawText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** https://host:port → wss://host:port/api/events */
export function eventsUrl(server: string): string {
  const url = new URL('/api/events', server);
  url.protocol = 'wss:';
  return url.toString();
}
