import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Paths that may carry secrets; pino replaces them before anything is written. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'dbUrl',
  '*.dbUrl',
  // A repository's recovery key opens its backups without the password: never in a log line.
  'recoveryKey',
  '*.recoveryKey',
  '*.*.recoveryKey',
  // A Microsoft 365 tenant's client secret or private key, as a form sends it and as a node gets it.
  'clientSecret',
  '*.clientSecret',
  'privateKeyPem',
  '*.privateKeyPem',
  'credential',
  '*.credential',
  '*.*.credential',
];

/** A request's URL without its query string, which may carry a token or other secrets. */
export function pathOnly(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * Replaces Fastify's request serializer, which logs the full URL: method, path (no query
 * string), host and peer address only.
 */
export const LOG_SERIALIZERS = {
  req(req: LoggedRequest): Record<string, unknown> {
    return { method: req.method, url: pathOnly(req.url), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
  },
};

export interface LoggerOptions {
  level: string;
  /** Also append JSON logs here (the desktop app has no terminal). */
  file?: string;
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const streams: pino.StreamEntry[] = [];
  if (options.level !== 'silent') {
    streams.push({
      level: options.level as pino.Level,
      // pino-pretty runs in-process: a worker-thread transport would outlive short CLI runs.
      stream: options.pretty ? pretty({ colorize: true, sync: true, ignore: 'pid,hostname,app' }) : pino.destination(1),
    });
    if (options.file) {
      fs.mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 });
      streams.push({ level: options.level as pino.Level, stream: pino.destination({ dest: options.file, mkdir: true, sync: true }) });
    }
  }
  return pino(
    { level: options.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { app: 'vplus-server' }, serializers: LOG_SERIALIZERS },
    streams.length > 0 ? pino.multistream(streams) : undefined,
  );
}
