/**
 * Restores a VM backup into a directory: each disk as a sparse raw or qcow2 file plus the
 * domain XML as it was backed up. Every backup is a complete index, so any point restores
 * directly, without replaying a chain. Files appear under their final names only when
 * complete (written as *.partial, then renamed). They hold a whole VM's data, so they are
 * the owner's only (0600, directories made here 0700) unless the caller asks otherwise.
 */
import { access, chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RESTORED_FILE_MODE } from '../../repository/backup-reader.js';
import type { Repository, RestoreProgress } from '../../repository/index.js';
import { ChildProcessRunner, type CommandRunner } from './command-runner.js';
import { KvmError } from './errors.js';

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
}

interface VmSource {
  vm?: { name?: string };
  domainXml?: string;
}

export async function restoreToDirectory(o: RestoreToDirectoryOptions, runner: CommandRunner = new ChildProcessRunner(3_600_000)): Promise<RestoreToDirectoryResult> {
  const reader = await o.repository.openBackup(o.backupId);
  const all = reader.manifest.disks.map((d) => d.name);
  const chosen = o.disks ?? all;
  const unknown = chosen.filter((d) => !all.includes(d));
  if (unknown.length > 0) throw new KvmError('KVM_RESTORE_TARGET', `backup ${o.backupId} has no disk ${unknown.join(', ')} (it has ${all.join(', ')})`);
  const fileMode = o.fileMode ?? RESTORED_FILE_MODE;
  await mkdir(o.directory, { recursive: true, mode: o.dirMode ?? RESTORED_DIR_MODE });
  const source = (reader.manifest.source ?? {}) as VmSource;
  const xmlPath = source.domainXml ? path.join(o.directory, `${safeName(source.vm?.name ?? 'domain')}.xml`) : null;
  const targets = chosen.map((d) => path.join(o.directory, `${safeName(d)}.${o.format}`));
  if (!o.overwrite) {
    for (const t of [...targets, ...(xmlPath ? [xmlPath] : [])]) {
      if (await exists(t)) throw new KvmError('KVM_RESTORE_TARGET', `${t} already exists; choose another directory or allow overwriting`);
    }
  }
  const restored: RestoredDisk[] = [];
  for (const [i, disk] of chosen.entries()) {
    if (o.signal?.aborted) throw new KvmError('KVM_CANCELLED', 'the restore was cancelled');
    const target = targets[i]!;
    const raw = o.format === 'raw' ? `${target}.partial` : path.join(o.directory, `.${safeName(disk)}.raw.partial`);
    try {
      const r = await reader.restoreToFile(disk, raw, o.onProgress, { mode: fileMode });
      if (o.format === 'qcow2') {
        // qemu-img creates its output by the umask (0644): it writes into a file made private first.
        await writeFile(`${target}.partial`, '', { mode: fileMode });
        await chmod(`${target}.partial`, fileMode);
        // qemu-img detects zero blocks and leaves them unallocated: the qcow2 stays sparse.
        await runner.run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, `${target}.partial`], { signal: o.signal });
        await rm(raw, { force: true });
        await chmod(`${target}.partial`, fileMode);
      }
      await rename(`${target}.partial`, target);
      restored.push({ disk, path: target, format: o.format, size: r.size, dataBytes: r.dataBytes });
    } catch (err) {
      await rm(raw, { force: true });
      await rm(`${target}.partial`, { force: true });
      throw err;
    }
  }
  if (xmlPath && source.domainXml) {
    await writeFile(`${xmlPath}.partial`, source.domainXml, { mode: fileMode });
    await chmod(`${xmlPath}.partial`, fileMode);
    await rename(`${xmlPath}.partial`, xmlPath);
  }
  return { disks: restored, domainXmlPath: xmlPath };
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
