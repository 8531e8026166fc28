/**
 * The NBD server of a mount session, in a process of its own (spawned by nbd-serve-child.ts):
 * the node process reads files under the session's mounts, and those reads wait on this
 * server; were it in the same process, a few slow reads could hold every libuv pool thread
 * while the server needs one to read the repository. Here it has its own pool.
 *
 *   node nbd-serve-process.js <workDir>
 *
 * `workDir` is on the command line so a cleanup after a crash finds (and ends) this process
 * by its path. The repository's password comes over the IPC channel, never in argv or env.
 * The process ends when told to, or when the node process that spawned it goes away.
 */
import type { S3Repository } from '../../common/s3-location.js';
import type { Repository } from '../repository/index.js';
import { openRepository } from '../agent/repository-location.js';
import { silentLogger } from '../repository/logger.js';
import { pathToFileURL } from 'node:url';
import { backupReaderSource, restrictDisks } from './block-device.js';
import { serveBackup, type NbdServer } from './nbd-server.js';

export interface ServeRequest {
  type: 'serve';
  /** The directory, or (S3) the place as shown. */
  repositoryPath: string;
  /** S3 destinations: the bucket and its credentials (over IPC, like the password). */
  s3?: S3Repository;
  password: string | null;
  backupId: string;
  /** Disks to serve; all the backup's when absent. */
  disks?: string[];
  socketPath: string;
  overlayDir?: string;
  cacheChunks?: number;
}
export type ServeReply = { type: 'ready'; disks: { name: string; size: number }[] } | { type: 'failed'; message: string; code?: string };

let repository: Repository | undefined;
let server: NbdServer | undefined;
let ending = false;

async function serve(req: ServeRequest): Promise<ServeReply> {
  repository = await openRepository({ path: req.repositoryPath, s3: req.s3 }, { password: req.password ?? undefined }, { logger: silentLogger });
  // Files are read in order far more often than not: the next chunks are decoded ahead.
  const reader = await repository.openBackup(req.backupId, { cacheChunks: req.cacheChunks ?? 64, sequentialPrefetch: 8 });
  const source = restrictDisks(backupReaderSource(reader), req.disks);
  server = await serveBackup(source, { socketPath: req.socketPath, ...(req.overlayDir ? { overlayDir: req.overlayDir } : {}) });
  return { type: 'ready', disks: source.disks.map((name) => ({ name, size: source.diskSize(name) })) };
}

async function end(code: number): Promise<never> {
  if (!ending) {
    ending = true;
    await server?.close().catch(() => undefined);
    await repository?.close().catch(() => undefined);
  }
  process.exit(code);
}

// Only as the entry of its own process (never when imported, e.g. by a test runner's worker).
if (process.send && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('message', (m: ServeRequest | { type: 'close' }) => {
    if (m.type === 'close') {
      void end(0);
      return;
    }
    serve(m).then(
      (reply) => process.send?.(reply),
      (err: unknown) => {
        const e = err as { message?: string; code?: string };
        process.send?.({ type: 'failed', message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) } satisfies ServeReply, () => void end(1));
      },
    );
  });
  // The node process is gone (killed): nothing may use this server any more.
  process.on('disconnect', () => void end(0));
  process.on('SIGTERM', () => void end(0));
}
