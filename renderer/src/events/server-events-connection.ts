import { ServerEventSchema, type ServerEvent } from '@common/api/index.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting';

export interface ServerEventsConnectionOptions {
  url: string;
  onEvent: (event: ServerEvent) => void;
  onStateChange: (state: ConnectionState) => void;
  /** The socket came back after a gap: events may have been missed, so caches should refresh. */
  onReconnected: () => void;
  createSocket?: (url: string) => WebSocket;
  initialDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
}

/** Same host as the page; the session cookie authenticates the upgrade request. */
export function eventsUrl(location: Location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/events`;
}

/** Exponential backoff with jitter, so tabs that lost the server together do not return in lockstep. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Newer servers may send event types this UI does not know yet; those are ignored, not errors. */
export function parseServerEvent(data: unknown): ServerEvent | null {
  if (typeof data !== 'string') return null;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return null;
  }
  const parsed = ServerEventSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

/** One WebSocket to /api/events that keeps itself connected until stop(). */
export class ServerEventsConnection {
  readonly #options: ServerEventsConnectionOptions;
  #socket: WebSocket | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #attempt = 0;
  #hasBeenOpen = false;
  #stopped = true;

  constructor(options: ServerEventsConnectionOptions) {
    this.#options = options;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    window.addEventListener('online', this.#reconnectNow);
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    window.removeEventListener('online', this.#reconnectNow);
    this.#clearRetry();
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000, 'signed out');
  }

  #connect(): void {
    const create = this.#options.createSocket ?? ((url: string) => new WebSocket(url));
    this.#options.onStateChange(this.#hasBeenOpen ? 'reconnecting' : 'connecting');
    const socket = create(this.#options.url);
    this.#socket = socket;

    socket.addEventListener('open', () => {
      if (socket !== this.#socket) return;
      this.#attempt = 0;
      this.#options.onStateChange('open');
      if (this.#hasBeenOpen) this.#options.onReconnected();
      this.#hasBeenOpen = true;
    });
    socket.addEventListener('message', (message: MessageEvent) => {
      if (socket !== this.#socket) return;
      const event = parseServerEvent(message.data);
      if (event !== null) this.#options.onEvent(event);
    });
    // 'error' is always followed by 'close', so retrying is handled there alone.
    socket.addEventListener('close', () => {
      if (socket !== this.#socket || this.#stopped) return;
      this.#socket = null;
      this.#scheduleRetry();
    });
  }

  #scheduleRetry(): void {
    const { initialDelayMs = 1_000, maxDelayMs = 30_000, random = Math.random } = this.#options;
    const delay = backoffDelay(this.#attempt, initialDelayMs, maxDelayMs, random);
    this.#attempt += 1;
    this.#options.onStateChange(this.#hasBeenOpen ? 'reconnecting' : 'connecting');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#connect();
    }, delay);
  }

  /** The network came back: no point waiting out a long backoff. */
  readonly #reconnectNow = (): void => {
    if (this.#stopped || this.#retryTimer === null) return;
    this.#clearRetry();
    this.#connect();
  };

  #clearRetry(): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}
