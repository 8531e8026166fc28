/**
 * Point manifests: one sealed file per committed backup point in points/, written last and
 * atomically, so a point exists exactly when its manifest does (as backups/ for VM backups).
 */
import * as path from 'node:path';
import { isErrno, toRepositoryError } from '../errors.js';
import { TEMP_PREFIX } from '../file-system.js';
import type { PackAccess } from './pack-access.js';
import { PointCorruptError, PointExistsError, PointNotFoundError } from './pack-errors.js';
import { PACKS_FORMAT_VERSION, PACK_LAYOUT, POINT_ID_RE, POINT_MAGIC, POINT_SUFFIX, pointLabel, pointManifestSchema, pointRelPath, type PointManifest } from './pack-format.js';
import { SealedFileError, seal, unseal } from './sealed.js';

export interface PointScan {
  /** Oldest first. */
  points: PointManifest[];
  damaged: { id: string; detail: string }[];
}

export function encodePoint(m: PointManifest, sealKey: Buffer | null): Buffer {
  return seal(POINT_MAGIC, PACKS_FORMAT_VERSION, pointLabel(m.id), Buffer.from(JSON.stringify(m), 'utf8'), sealKey);
}

export function decodePoint(raw: Buffer, expectedId: string, sealKey: Buffer | null, file: string): PointManifest {
  let plain: Buffer;
  try {
    plain = unseal(raw, POINT_MAGIC, PACKS_FORMAT_VERSION, pointLabel(expectedId), sealKey);
  } catch (err) {
    throw new PointCorruptError(file, err instanceof SealedFileError ? err.detail : String(err));
  }
  let json: unknown;
  try {
    json = JSON.parse(plain.toString('utf8'));
  } catch {
    throw new PointCorruptError(file, 'invalid JSON');
  }
  const parsed = pointManifestSchema.safeParse(json);
  if (!parsed.success) throw new PointCorruptError(file, `invalid content: ${parsed.error.issues[0]?.message ?? 'schema mismatch'}`);
  if (parsed.data.id !== expectedId) throw new PointCorruptError(file, `file is named ${expectedId} but holds point ${parsed.data.id}`);
  return parsed.data;
}

export class PointStore {
  private readonly dir: string;
  constructor(
    private readonly access: Pick<PackAccess, 'repoPath' | 'fs'>,
    private readonly sealKey: Buffer | null,
    /** Manifests never change: cached, possibly shared by every store of one open repository. */
    private readonly cache: Map<string, PointManifest> = new Map(),
  ) {
    this.dir = path.join(access.repoPath, PACK_LAYOUT.points);
  }

  fileOf(id: string): string {
    return path.join(this.access.repoPath, pointRelPath(id));
  }

  async listIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await this.access.fs.readdir(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw toRepositoryError(err, this.access.repoPath, 'listing backup points');
    }
    return names
      .filter((n) => n.endsWith(POINT_SUFFIX) && !n.startsWith(TEMP_PREFIX))
      .map((n) => n.slice(0, -POINT_SUFFIX.length))
      .filter((id) => POINT_ID_RE.test(id))
      .sort();
  }

  async exists(id: string): Promise<boolean> {
    try {
      await this.access.fs.stat(this.fileOf(id));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw toRepositoryError(err, this.access.repoPath, `checking backup point ${id}`);
    }
  }

  async load(id: string): Promise<PointManifest> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    if (!POINT_ID_RE.test(id)) throw new PointNotFoundError(this.access.repoPath, id);
    const file = this.fileOf(id);
    let raw: Buffer;
    try {
      raw = await this.access.fs.readFile(file);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new PointNotFoundError(this.access.repoPath, id);
      throw toRepositoryError(err, this.access.repoPath, `reading backup point ${id}`);
    }
    const m = decodePoint(raw, id, this.sealKey, file);
    this.cache.set(id, m);
    return m;
  }

  /** Every point, oldest first; damaged manifests are reported, not thrown. */
  async scan(filter?: (m: PointManifest) => boolean): Promise<PointScan> {
    const points: PointManifest[] = [];
    const damaged: PointScan['damaged'] = [];
    for (const id of await this.listIds()) {
      try {
        const m = await this.load(id);
        if (!filter || filter(m)) points.push(m);
      } catch (err) {
        if (err instanceof PointCorruptError) damaged.push({ id, detail: err.message });
        else if (!(err instanceof PointNotFoundError)) throw err; // removed meanwhile: skip
      }
    }
    points.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    return { points, damaged };
  }

  /** Writes a manifest atomically and durably; refuses to replace an existing point. */
  async write(m: PointManifest): Promise<void> {
    if (await this.exists(m.id)) throw new PointExistsError(this.access.repoPath, m.id);
    try {
      await this.access.fs.mkdir(this.dir);
      await this.access.fs.writeFileAtomic(this.fileOf(m.id), encodePoint(m, this.sealKey));
      await this.access.fs.syncDir(this.dir);
    } catch (err) {
      throw toRepositoryError(err, this.access.repoPath, `writing backup point ${m.id}`);
    }
    this.cache.set(m.id, m);
  }

  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      try {
        await this.access.fs.unlink(this.fileOf(id));
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, this.access.repoPath, `removing backup point ${id}`);
      }
      this.cache.delete(id);
    }
    try {
      await this.access.fs.syncDir(this.dir);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw toRepositoryError(err, this.access.repoPath, 'removing backup points');
    }
  }
}
