/**
 * Errors of the pack layer. They reuse the repository's codes (a blob is a chunk of a file,
 * a point is a backup), so tasks, the API and the CLI handle them as they do the VM ones.
 */
import { RepositoryError } from '../errors.js';

export class BlobMissingError extends RepositoryError {
  constructor(
    repoPath: string,
    readonly blobId: string,
    where: string,
  ) {
    super('CHUNK_MISSING', `Blob ${blobId} is missing from the repository at ${repoPath} (${where}). Run verify to see which backup points are affected.`, { path: repoPath });
  }
}

export class BlobCorruptError extends RepositoryError {
  constructor(
    file: string,
    readonly blobId: string,
    detail: string,
  ) {
    super('CHUNK_CORRUPT', `Blob ${blobId} in ${file} is damaged (${detail}). Run verify to see which backup points are affected.`, { path: file });
  }
}

export class PointNotFoundError extends RepositoryError {
  constructor(repoPath: string, pointId: string) {
    super('BACKUP_NOT_FOUND', `Backup point ${pointId} does not exist in the repository at ${repoPath}.`, { path: repoPath });
  }
}

export class PointCorruptError extends RepositoryError {
  constructor(file: string, detail: string) {
    super('MANIFEST_CORRUPT', `Backup point manifest ${file} is damaged or was tampered with (${detail}). That backup point cannot be restored.`, { path: file });
  }
}

export class PointGcRaceError extends RepositoryError {
  constructor(pointId: string, missing: number) {
    super(
      'REPO_GC_RACE',
      `Backup point ${pointId} was not committed: garbage collection ran while it was stalled and ${missing} blob(s) it needs are gone. Run the backup again (as a full backup).`,
    );
  }
}

export class PointExistsError extends RepositoryError {
  constructor(repoPath: string, pointId: string) {
    super('BACKUP_EXISTS', `A backup point with id ${pointId} already exists in the repository at ${repoPath}; use a new id.`, { path: repoPath });
  }
}
