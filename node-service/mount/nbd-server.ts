/**
 * Serves block devices over NBD on a unix socket: the mount feature's base (a backup's disks
 * straight from the repository, chunks fetched on demand) and later instant recovery's.
 * Many clients at once, each with bounded concurrency and out-of-order replies (see
 * nbd-connection.ts); read-only exports, or writable ones over a copy-on-write overlay.
 *
 *   const server = await serveBackup(backupReaderSource(reader), { socketPath, overlayDir });
 *   // nbd+unix:///vda?socket=<socketPath>  (the default export "" is the first disk)
 *   await server.close();
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { silentLogger, type RepositoryLogger } from '../repository/logger.js';
import { ReadOnlyDisk, type BackupDataSource } from './block-device.js';
import { CowOverlay } from './cow-overlay.js';
import { NbdConnection, type ExportCatalog, type NbdExport } from './nbd-connection.js';

export type { NbdExport } from './nbd-connection.js';

export interface NbdServerOptions {
  /** The first export is also the default one (export name ""). */
  exports: NbdExport[];
  /** Requests handled at once per client (default 16). */
  maxInFlightPerClient?: number;
  logger?: RepositoryLogger;
  /** How long close() lets clients receive their last replies before cutting them off (default 2 s). */
  closeGraceMs?: number;
}

export type NbdServerErrorCode = 'NBD_SOCKET_IN_USE' | 'NBD_LISTEN_FAILED' | 'NBD_NO_EXPORTS' | 'NBD_SERVER_CLOSED';

export class NbdServerError extends Error {
  constructor(
    readonly code: NbdServerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NbdServerError';
  }
}

const SOCKET_MODE = 0o600;

export class NbdServer {
  private readonly server: net.Server;
  private readonly connections = new Map<NbdConnection, Promise<void>>();
  private readonly catalog: ExportCatalog;
  private readonly log: RepositoryLogger;
  private socketPath: string | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly options: NbdServerOptions) {
    if (options.exports.length === 0) throw new NbdServerError('NBD_NO_EXPORTS', 'nothing to serve: no exports given');
    const byName = new Map(options.exports.map((e) => [e.name, e]));
    const first = options.exports[0];
    this.catalog = {
      find: (name) => (name === '' ? first : byName.get(name)),
      list: () => options.exports,
    };
    this.log = (options.logger ?? silentLogger).child({ module: 'nbd-server' });
    this.server = net.createServer({ allowHalfOpen: false }, (socket) => this.accept(socket));
  }

  get exports(): readonly NbdExport[] {
    return this.options.exports;
  }

  /** Clients connected now. */
  get clientCount(): number {
    return this.connections.size;
  }

  /**
   * Listens on a unix socket (mode 0600; put it in a private directory too). A stale socket
   * left by a dead server is replaced; one a live server answers on is refused.
   */
  async listen(socketPath: string): Promise<void> {
    if (this.closing) throw new NbdServerError('NBD_SERVER_CLOSED', 'the NBD server is closed');
    try {
      await this.listenOnce(socketPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw listenError(socketPath, err);
      if (await answers(socketPath)) throw new NbdServerError('NBD_SOCKET_IN_USE', `${socketPath} is already served by another process`);
      // Replace only a socket (a dead server's); any other file there is the caller's mistake.
      const st = await lstat(socketPath).catch(() => null);
      if (st && !st.isSocket()) throw new NbdServerError('NBD_LISTEN_FAILED', `cannot listen on ${socketPath}: a file that is not a socket is in the way`);
      await unlink(socketPath).catch(() => undefined); // stale: gone already is fine
      await this.listenOnce(socketPath).catch((e: unknown) => {
        throw listenError(socketPath, e);
      });
    }
    this.socketPath = socketPath;
    await chmod(socketPath, SOCKET_MODE);
    this.log.info({ socket: socketPath, exports: this.options.exports.map((e) => e.name) }, 'NBD server listening');
  }

  /** Stops listening, answers requests in flight, disconnects every client, closes the devices (overlays are deleted). */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections.keys()) c.shutdown();
    const grace = this.options.closeGraceMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, grace);
      timer.unref();
    });
    await Promise.race([Promise.allSettled(this.connections.values()), deadline]);
    clearTimeout(timer);
    for (const c of this.connections.keys()) c.destroy();
    await Promise.allSettled(this.connections.values());
    await stopped;
    if (this.socketPath) await unlink(this.socketPath).catch(() => undefined); // libuv usually removed it
    const results = await Promise.allSettled(this.options.exports.map((e) => e.device.close()));
    for (const r of results) if (r.status === 'rejected') this.log.warn({ err: r.reason as unknown }, 'closing an NBD export failed');
    this.log.info({ socket: this.socketPath }, 'NBD server closed');
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new NbdConnection(socket, {
      exports: this.catalog,
      maxInFlight: this.options.maxInFlightPerClient ?? 16,
      logger: this.log,
    });
    const done = conn.run().finally(() => this.connections.delete(conn));
    this.connections.set(conn, done);
  }

  private listenOnce(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(socketPath, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }
}

function listenError(socketPath: string, cause: unknown): NbdServerError {
  const detail = (cause as NodeJS.ErrnoException).code ?? String(cause);
  return new NbdServerError('NBD_LISTEN_FAILED', `cannot listen on ${socketPath} (${detail}); check that its directory exists and is writable`, { cause });
}

/** Whether something accepts connections on the unix socket. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface ServeBackupOptions {
  socketPath: string;
  /** With a directory (the node's staging space), each disk gets a copy-on-write overlay there and is writable. */
  overlayDir?: string;
  maxInFlightPerClient?: number;
  logger?: RepositoryLogger;
}

/** Serves every disk of a backup, one export per disk name ("" = the first disk), and listens. */
export async function serveBackup(source: BackupDataSource, options: ServeBackupOptions): Promise<NbdServer> {
  const exports: NbdExport[] = [];
  try {
    for (const disk of source.disks) {
      const base = new ReadOnlyDisk(source, disk);
      const device = options.overlayDir === undefined ? base : await CowOverlay.create(base, options.overlayDir);
      const mode = device.writable ? 'copy-on-write overlay' : 'read-only';
      exports.push({ name: disk, description: `backup disk ${disk} (${mode})`, device });
    }
  } catch (err) {
    await Promise.allSettled(exports.map((e) => e.device.close()));
    throw err;
  }
  const server = new NbdServer({
    exports,
    ...(options.maxInFlightPerClient === undefined ? {} : { maxInFlightPerClient: options.maxInFlightPerClient }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  try {
    await server.listen(options.socketPath);
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}
