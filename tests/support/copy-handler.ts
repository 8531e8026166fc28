import type { CopyResult } from '../../common/copy-tasks.js';
import { repoBackupOf } from '../../node-service/agent/handlers/destination-task.js';
import type { TaskHandler } from '../../node-service/agent/task-handler.js';
import { Repository } from '../../node-service/repository/index.js';

interface RepoParam {
  path: string;
  password?: string;
}

/**
 * Until the node's own COPY handler (node-service/agent/handlers/copy.handler.ts) is among the
 * default handlers, test nodes copy with the repository library itself: every disk of the
 * backup read from the source directory and written to the target directory under the same
 * backup id. A real copy (not deduplicated across runs, directories only); what the tests
 * using it check is the server's side of copies.
 */
export const libraryCopyHandler: TaskHandler = {
  type: 'COPY',
  async run(ctx) {
    const p = ctx.params as { source: RepoParam; target: RepoParam; repoBackupId: string };
    const source = await Repository.open(p.source.path, p.source.password !== undefined ? { password: p.source.password } : {});
    try {
      const target = await Repository.open(p.target.path, p.target.password !== undefined ? { password: p.target.password } : {});
      try {
        const manifest = await source.loadManifest(p.repoBackupId);
        const reader = await source.openBackup(p.repoBackupId);
        const writer = await target.startBackup({ id: manifest.id, group: manifest.group, source: manifest.source });
        let done = 0;
        const total = manifest.disks.reduce((s, d) => s + d.size, 0);
        for (const disk of manifest.disks) {
          await writer.writeDisk(disk.name, disk.size, reader.readDisk(disk.name));
          done += disk.size;
          ctx.progress(done, total, `disk ${disk.name}`);
        }
        const copied = await writer.commit();
        const result: CopyResult = {
          repoBackupId: copied.id,
          chunks: 0,
          copiedChunks: 0,
          skippedChunks: 0,
          bytesSent: copied.summary.newStoredBytes,
          logicalBytes: copied.summary.logicalBytes,
          resumed: false,
          created: true,
          backup: repoBackupOf(copied),
        };
        return { result };
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  },
};

/** The handlers given, with the stand-in COPY handler when they have none. */
export function withCopyHandler(handlers: TaskHandler[]): TaskHandler[] {
  return handlers.some((h) => h.type === 'COPY') ? handlers : [...handlers, libraryCopyHandler];
}
