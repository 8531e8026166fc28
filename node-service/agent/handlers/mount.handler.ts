/**
 * MOUNT: opens a backup on this node and holds it open until it is closed — by a user (the
 * server's 'close' call), by its idle timeout, or by the node stopping. Browsing: every
 * filesystem found, mounted read-only (node-service/mount/mount-session.ts). iSCSI: one disk
 * as a read-only LUN of this node's tgtd, for the named initiators, with CHAP.
 *
 * A Microsoft 365 backup (params.m365): one volume per drive, each a backup point's view read
 * from its metadata (mounts/m365-volumes.ts); nothing is mounted on the host.
 *
 * FILE_RESTORE: copies paths of an open mount into a directory on this node.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import { FileRestoreParamsSchema, MountParamsSchema, type FileRestoreParams, type FileRestoreResult, type MountResult } from '../../../common/mount-tasks.js';
import { backupReaderSource, restrictDisks } from '../../mount/block-device.js';
import { copyOut } from '../../mount/copy-out.js';
import { entryTotals } from '../../mount/archive-entries.js';
import { MountSession } from '../../mount/mount-session.js';
import { serveInChild } from '../../mount/nbd-serve-child.js';
import { extractTar, tarEntries } from '../../mount/tar-transfer.js';
import type { VolumeTree } from '../../mount/volume-tree.js';
import { IscsiService } from '../mounts/iscsi-service.js';
import { openM365Volumes } from '../mounts/m365-volumes.js';
import { callError, toFilesystem, type CloseReason, type MountVolume, type NodeMounts } from '../mounts/node-mounts.js';
import { TaskError, type TaskHandler, type TaskRunContext } from '../task-handler.js';
import { parseParams, withRepository, type DestinationHandlerDeps } from './destination-task.js';

export interface MountHandlerDeps extends DestinationHandlerDeps {
  mounts: NodeMounts;
  /** Names this node's mount directories: <stagingDir>/mounts-<runtimeKey>/<mountId>. */
  runtimeKey: string;
  iscsi: IscsiService | ((stagingDir: string) => IscsiService);
}

export function mountsDir(stagingDir: string, runtimeKey: string): string {
  return path.join(stagingDir, `mounts-${runtimeKey}`);
}

/** Where Microsoft 365 mounts keep their metadata working copies: <stagingDir>/m365-mounts-<runtimeKey>/<mountId>. */
export function m365MountsDir(stagingDir: string, runtimeKey: string): string {
  return path.join(stagingDir, `m365-mounts-${runtimeKey}`);
}

/** Undoes the mounts a previous run of this node left (killed with mounts open). */
export async function cleanupStaleMounts(stagingDir: string, runtimeKey: string, logger: Logger): Promise<void> {
  // Microsoft 365 mounts leave only metadata working copies (names in clear): nothing of them is open now.
  await fs.rm(m365MountsDir(stagingDir, runtimeKey), { recursive: true, force: true }).catch((err: unknown) => logger.error({ err }, 'removing the working copies of Microsoft 365 mounts a previous run left failed'));
  const dir = mountsDir(stagingDir, runtimeKey);
  await IscsiService.cleanup(dir, logger);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names.filter((n) => /^\d+$/.test(n))) {
    try {
      await MountSession.cleanup(path.join(dir, name));
      logger.warn({ mount: name }, 'cleaned up a mount a previous run of this node left open');
    } catch (err) {
      logger.error({ err, mount: name }, 'cleaning up a mount a previous run left failed');
    }
  }
}

export function mountHandlers(deps: MountHandlerDeps): TaskHandler[] {
  return [mountHandler(deps), fileRestoreHandler(deps)];
}

function mountHandler(deps: MountHandlerDeps): TaskHandler {
  let iscsi: IscsiService | undefined;
  return {
    type: 'MOUNT',
    async run(ctx: TaskRunContext) {
      const { target, params } = parseParams(ctx, deps, MountParamsSchema);
      let closeReason: CloseReason | null = null;
      let wake: () => void = () => undefined;
      const closed = new Promise<void>((resolve) => (wake = resolve));
      const requestClose = (reason: CloseReason) => {
        closeReason ??= reason;
        wake();
      };
      ctx.signal.addEventListener('abort', () => requestClose('user'), { once: true });
      if (params.m365) {
        const m365 = params.m365;
        const workDir = path.join(m365MountsDir(ctx.stagingDir, deps.runtimeKey), String(params.mountId));
        ctx.progress(0, null, 'opening the backup');
        const volumes = await withRepository(ctx, deps, target, async (repository) => {
          // A retry of the same mount after a crash: whatever the last attempt left goes first.
          await fs.rm(workDir, { recursive: true, force: true });
          const opened = await openM365Volumes(repository, m365.parts, { workDir, logger: ctx.logger });
          try {
            const readable = opened.volumes.filter((v) => v.readable);
            if (readable.length === 0) throw new TaskError(`no drive of the backup can be browsed: ${opened.volumes.map((v) => `${v.name}: ${v.reason ?? 'not readable'}`).join('; ')}`, 'MOUNT_NOTHING_READABLE');
            ctx.log('info', `${readable.length} of ${opened.volumes.length} drives opened (${opened.volumes.map((v) => `${v.name}${v.readable ? '' : ` — ${v.reason ?? 'not readable'}`}`).join(', ')})`);
            ctx.progress(1, 1, 'mounted');
            deps.mounts.register({ mountId: params.mountId, taskId: ctx.taskId, volumes: opened.volumes, idleSeconds: params.idleSeconds, requestClose });
            if (closeReason === null) await closed;
          } finally {
            deps.mounts.unregister(params.mountId);
            await opened.close();
            await fs.rm(workDir, { recursive: true, force: true }).catch((err: unknown) => ctx.logger.error({ err, workDir }, 'removing the mount’s working copies failed'));
            deps.mounts.released(params.mountId);
          }
          return opened.volumes;
        });
        return { result: closedResult(ctx, params.idleSeconds, closeReason, volumes) };
      }
      const workDir = path.join(mountsDir(ctx.stagingDir, deps.runtimeKey), String(params.mountId));
      // A retry of the same mount after a crash: whatever the last attempt left goes first.
      await MountSession.cleanup(workDir).catch(() => undefined);
      ctx.progress(0, null, 'opening the backup');

      const session = await withRepository(ctx, deps, target, async (repository) => {
        const reader = await repository.openBackup(params.backupId, { cacheChunks: 16 });
        const source = restrictDisks(backupReaderSource(reader), params.iscsi ? [params.iscsi.disk] : params.disks);
        ctx.progress(0, null, params.iscsi ? `serving disk ${params.iscsi.disk}` : 'finding filesystems');
        return MountSession.open(source, {
          workDir,
          overlay: params.iscsi ? false : params.overlay,
          mountFilesystems: !params.iscsi,
          logger: ctx.logger,
          serve: (_src, o) =>
            serveInChild(workDir, {
              repositoryPath: target.path,
              ...(target.s3 ? { s3: target.s3 } : {}),
              password: target.password ?? null,
              backupId: params.backupId,
              ...(params.iscsi ? { disks: [params.iscsi.disk] } : params.disks ? { disks: params.disks } : {}),
              socketPath: o.socketPath,
              ...(o.overlayDir ? { overlayDir: o.overlayDir } : {}),
            }),
        });
      }).catch((err: unknown) => {
        const code = (err as { code?: string }).code;
        if (code === 'MOUNT_NO_SUCH_DISK') throw new TaskError((err as Error).message, code);
        throw err;
      });

      let exported: Awaited<ReturnType<IscsiService['addExport']>> | undefined;
      try {
        let iscsiReady;
        if (params.iscsi) {
          iscsi ??= typeof deps.iscsi === 'function' ? deps.iscsi(ctx.stagingDir) : deps.iscsi;
          const file = session.diskFiles.get(params.iscsi.disk);
          if (!file) throw new TaskError(`disk ${params.iscsi.disk} is not served`, 'MOUNT_NO_SUCH_DISK');
          exported = await iscsi.addExport(file, { names: params.iscsi.initiatorNames, addresses: params.iscsi.initiatorAddresses }, `m${params.mountId}`);
          iscsiReady = {
            disk: params.iscsi.disk,
            portal: exported.portal,
            target: exported.targetName,
            lun: exported.lun,
            chapUser: exported.chap.user,
            chapPassword: exported.chap.password,
            initiatorNames: params.iscsi.initiatorNames,
            initiatorAddresses: params.iscsi.initiatorAddresses,
          };
        }
        const readable = session.volumes.filter((v) => v.readable).length;
        const summary = params.iscsi
          ? `disk ${params.iscsi.disk} exported as ${exported?.targetName} on ${exported?.portal}`
          : `${readable} of ${session.volumes.length} filesystems mounted (${session.volumes.map((v) => `${v.name}${v.type ? ` ${v.type}` : ''}${v.readable ? '' : ` — ${v.reason ?? 'not readable'}`}`).join(', ') || 'none found'})`;
        ctx.log('info', summary);
        ctx.progress(1, 1, params.iscsi ? 'exported over iSCSI' : 'mounted');
        deps.mounts.register({ mountId: params.mountId, taskId: ctx.taskId, volumes: session.volumes, idleSeconds: params.idleSeconds, requestClose }, iscsiReady);
        if (closeReason === null) await closed;
      } finally {
        deps.mounts.unregister(params.mountId);
        if (exported && iscsi) await iscsi.removeExport(exported).catch((err: unknown) => ctx.logger.error({ err }, 'removing the iSCSI export failed'));
        await session.close().finally(() => deps.mounts.released(params.mountId));
      }
      return { result: closedResult(ctx, params.idleSeconds, closeReason, session.volumes) };
    },
  };
}

function closedResult(ctx: TaskRunContext, idleSeconds: number, closeReason: CloseReason | null, volumes: readonly MountVolume[]): MountResult {
  const by: CloseReason = closeReason ?? 'user';
  ctx.log('info', by === 'idle' ? `closed after ${Math.round(idleSeconds / 60)} min without use` : by === 'node' ? 'closed: the node is stopping' : 'closed');
  return { closedBy: by, filesystems: volumes.map(toFilesystem) };
}

function fileRestoreHandler(deps: MountHandlerDeps): TaskHandler {
  return {
    type: 'FILE_RESTORE',
    async run(ctx: TaskRunContext) {
      const parsed = FileRestoreParamsSchema.safeParse(ctx.params);
      if (!parsed.success) throw new TaskError(`the task's parameters are invalid (${parsed.error.issues[0]?.message ?? 'unknown'})`, 'INVALID_PARAMS');
      const params = parsed.data;
      if (!deps.mounts.isOpen(params.mountId)) return restoreThroughServer(ctx, deps, params);
      let located;
      try {
        const m = deps.mounts.get(params.mountId);
        located = params.paths.map((p) => deps.mounts.locate(m, p));
      } catch (err) {
        throw new TaskError(callError(err).message, 'MOUNT_NOT_OPEN');
      }
      const first = located[0]!;
      if (located.some((l) => l.volume !== first.volume)) throw new TaskError('a restore takes paths from one filesystem; restore each filesystem on its own', 'INVALID_ARGUMENT');
      const directory = path.resolve(params.directory);
      await fs.mkdir(directory, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
        throw new TaskError(`cannot create ${directory} on node ${deps.nodeName}: ${(err as Error).message}`, 'RESTORE_TARGET');
      });
      const keepAlive = setInterval(() => deps.mounts.get(params.mountId), 10_000);
      try {
        const rels = located.map((l) => l.rel);
        const r =
          first.root !== null
            ? await copyOut(first.root, rels, directory, { overwrite: params.overwrite, signal: ctx.signal, onProgress: (p) => ctx.progress(p.bytesDone, p.bytesTotal, `${p.entriesDone} of ${p.entriesTotal} entries`) })
            : await restoreFromTree(ctx, first.tree, rels, directory, params.overwrite);
        const result: FileRestoreResult = { directory, entries: r.entriesDone, bytes: r.bytesDone, skipped: r.skipped };
        ctx.log('info', `restored ${r.entriesDone} entries (${r.bytesDone} bytes) to ${directory}${r.skipped.length ? `; skipped ${r.skipped.length} special files` : ''}`);
        return { result, ...(r.skipped.length ? { warnings: [`skipped ${r.skipped.length} devices, fifos or sockets: ${r.skipped.slice(0, 5).join(', ')}`] } : {}) };
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        const e = callError(err);
        throw new TaskError(e.code === 'EXISTS' ? `${e.message}; restore with overwrite to replace it` : e.message, e.code);
      } finally {
        clearInterval(keepAlive);
      }
    },
  };
}

/**
 * A volume that is no local directory (a Microsoft 365 backup's drive): its selection as a
 * tar, extracted by the same confined code as a restore through the server.
 */
async function restoreFromTree(ctx: TaskRunContext, tree: VolumeTree, rels: string[], directory: string, overwrite: boolean) {
  const totals = await entryTotals(await tree.selection(rels, ctx.signal));
  const pipe = new PassThrough();
  ctx.progress(0, totals.bytes, `0 of ${totals.entries} entries`);
  const sent = tarEntries(await tree.selection(rels, ctx.signal), pipe, { signal: ctx.signal });
  sent.catch(() => undefined); // its failure ends the extraction too, which reports it
  const r = await extractTar(pipe, directory, {
    overwrite,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress(p.bytesDone, totals.bytes, `${p.entriesDone} of ${totals.entries} entries`),
  });
  await sent;
  return r;
}

/**
 * The mount is held by another node: the selection comes through the server as a tar and is
 * extracted here, confined to the directory (tar-transfer.ts).
 */
async function restoreThroughServer(ctx: TaskRunContext, deps: MountHandlerDeps, params: FileRestoreParams) {
  const directory = path.resolve(params.directory);
  await fs.mkdir(directory, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw new TaskError(`cannot create ${directory} on node ${deps.nodeName}: ${(err as Error).message}`, 'RESTORE_TARGET');
  });
  let pulled;
  try {
    pulled = await deps.mounts.pull(ctx.taskId, params.mountId, params.paths);
  } catch (err) {
    throw new TaskError(callError(err).message, callError(err).code);
  }
  const { head, body } = pulled;
  const onAbort = () => body.destroy();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    ctx.progress(0, head.bytesTotal, `0 of ${head.entries} entries`);
    const r = await extractTar(body, directory, {
      overwrite: params.overwrite,
      signal: ctx.signal,
      onProgress: (p) => ctx.progress(p.bytesDone, head.bytesTotal, `${p.entriesDone} of ${head.entries} entries`),
    });
    const result: FileRestoreResult = { directory, entries: r.entriesDone, bytes: r.bytesDone, skipped: r.skipped };
    ctx.log('info', `restored ${r.entriesDone} entries (${r.bytesDone} bytes) to ${directory}, streamed through the server from the node holding the mount`);
    return { result };
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    const e = callError(err);
    throw new TaskError(e.code === 'EXISTS' ? `${e.message}; restore with overwrite to replace it` : e.message, e.code);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}
