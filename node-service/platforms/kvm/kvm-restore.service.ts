/**
 * Restores a VM backup into a directory: each disk as a sparse raw or qcow2 file plus the
 * domain XML as it was backed up, each byte written once. Every backup is a complete index,
 * so any point restores directly, without replaying a chain. Files appear under their final names only when
 * complete (written as *.partial, then renamed). They hold a whole VM's data, so they are
 * the owner's only (0600, directories made here 0700) unless the caller asks otherwise.
 * The target is checked before the first byte (restore-target.ts); a restore that fails
 * removes what it wrote and the directories it made, unless asked to keep them.
 */
import { access, chmod, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RESTORED_FILE_MODE } from '../../repository/backup-reader.js';
import { forEachDataChunk } from '../../repository/format.js';
import type { DiskManifest, Repository, RestoreProgress } from '../../repository/index.js';
import { KvmError } from './errors.js';
import { restoreDiskToQcow2 } from './qcow2-restore.js';
import { boundedFs, prepareRestoreTarget, removeEmptyDirectories } from './restore-target.js';

export interface RestoreToDirectoryOptions {
  repository: Repository;
  backupId: string;
  directory: string;
  format: 'raw' | 'qcow2';
  /** Disk names to restore (default: all). */
  disks?: readonly string[];
  /** Replace existing files of the same names. */
  overwrite?: boolean;
  onProgress?: (p: RestoreProgress) => void;
  signal?: AbortSignal;
  /** Permission bits of the restored files (default 0600). */
  fileMode?: number;
  /** Permission bits of directories the restore creates (default 0700); existing ones are left alone. */
  dirMode?: number;
  /** Leave what a failed restore wrote in place (default: removed). */
  keepOnFailure?: boolean;
  /** Deadline of each filesystem check of the target (default 30 s). */
  fsTimeoutMs?: number;
}

export const RESTORED_DIR_MODE = 0o700;

export interface RestoredDisk {
  disk: string;
  path: string;
  format: 'raw' | 'qcow2';
  size: number;
  /** Bytes written (the rest are holes). */
  dataBytes: number;
}

export interface RestoreToDirectoryResult {
  disks: RestoredDisk[];
  /** The domain definition as backed up, or null when the backup has none. */
  domainXmlPath: string | null;
  /** Directories the restore made, outermost first: a failed import removes them again when empty. */
  createdDirectories: string[];
}

interface VmSource {
  vm?: { name?: string };
  domainXml?: string;
}

export async function restoreToDirectory(o: RestoreToDirectoryOptions): Promise<RestoreToDirectoryResult> {
  const reader = await o.repository.openBackup(o.backupId);
  const all = reader.manifest.disks.map((d) => d.name);
  const chosen = o.disks ?? all;
  const unknown = chosen.filter((d) => !all.includes(d));
  if (unknown.length > 0) throw new KvmError('KVM_RESTORE_TARGET', `backup ${o.backupId} has no disk ${unknown.join(', ')} (it has ${all.join(', ')})`);
  const fileMode = o.fileMode ?? RESTORED_FILE_MODE;
  const directory = path.resolve(o.directory);
  const source = (reader.manifest.source ?? {}) as VmSource;
  const xmlPath = source.domainXml ? path.join(directory, `${safeName(source.vm?.name ?? 'domain')}.xml`) : null;
  const targets = chosen.map((d) => path.join(directory, `${safeName(d)}.${o.format}`));
  const { created } = await prepareRestoreTarget({
    directory,
    dirMode: o.dirMode ?? RESTORED_DIR_MODE,
    neededBytes: neededBytes(reader.manifest.disks.filter((d) => chosen.includes(d.name)), o.format) + Buffer.byteLength(source.domainXml ?? ''),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.fsTimeoutMs !== undefined ? { timeoutMs: o.fsTimeoutMs } : {}),
  });
  const written: string[] = [];
  try {
    if (!o.overwrite) {
      for (const t of [...targets, ...(xmlPath ? [xmlPath] : [])]) {
        if (await boundedFs('access', t, () => exists(t), o.signal, o.fsTimeoutMs)) throw new KvmError('KVM_RESTORE_TARGET', `${t} already exists; choose another directory or allow overwriting`);
      }
    }
    const restored: RestoredDisk[] = [];
    for (const [i, disk] of chosen.entries()) {
      if (o.signal?.aborted) throw new KvmError('KVM_CANCELLED', 'the restore was cancelled');
      const target = targets[i]!;
      const partial = `${target}.partial`;
      try {
        // One pass either way: the worker threads decode the chunks straight into the file,
        // raw at their disk offsets, qcow2 at the host offsets its layout planned (qcow2-restore.ts).
        const r =
          o.format === 'raw'
            ? await reader.restoreToFile(disk, partial, o.onProgress, { mode: fileMode })
            : await restoreDiskToQcow2({
                repository: o.repository,
                backupId: o.backupId,
                disk,
                target: partial,
                fileMode,
                ...(o.onProgress ? { onProgress: o.onProgress } : {}),
                ...(o.signal ? { signal: o.signal } : {}),
              });
        await rename(`${target}.partial`, target);
        written.push(target);
        restored.push({ disk, path: target, format: o.format, size: r.size, dataBytes: r.dataBytes });
      } finally {
        await rm(partial, { force: true });
      }
    }
    if (xmlPath && source.domainXml) {
      await writeFile(`${xmlPath}.partial`, source.domainXml, { mode: fileMode });
      await chmod(`${xmlPath}.partial`, fileMode);
      await rename(`${xmlPath}.partial`, xmlPath);
      written.push(xmlPath);
    }
    return { disks: restored, domainXmlPath: xmlPath, createdDirectories: created };
  } catch (err) {
    if (xmlPath) await rm(`${xmlPath}.partial`, { force: true });
    if (!o.keepOnFailure) {
      for (const f of written) await rm(f, { force: true });
      await removeEmptyDirectories(created);
    }
    throw targetError(directory, err);
  }
}

/**
 * Upper bound of the bytes a restore writes: the disks' data (holes stay holes); a qcow2
 * restore adds qcow2 metadata (about 1/8000 of the virtual size plus a little).
 */
function neededBytes(disks: readonly DiskManifest[], format: 'raw' | 'qcow2'): number {
  const data = disks.map((d) => {
    let n = 0;
    forEachDataChunk(d, (_id, _i, _off, length) => (n += length));
    return n;
  });
  const sum = data.reduce((s, n) => s + n, 0);
  if (format === 'raw') return sum;
  return sum + disks.reduce((s, d) => s + Math.ceil(d.size / 8000) + 1024 * 1024, 0);
}

/** A bare filesystem error while writing names the restore target, never the repository. */
function targetError(directory: string, err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof KvmError || !('code' in err) || typeof err.code !== 'string' || !('syscall' in err)) return err;
  const why = err.code === 'ENOSPC' || err.code === 'EDQUOT' ? 'no space left' : err.code === 'EROFS' ? 'read-only filesystem' : err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : err.message;
  return new KvmError('KVM_RESTORE_TARGET', `writing the restore target ${directory} failed: ${why}`, { cause: err });
}

/** Disk and VM names become file names: keep them inside the directory. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
