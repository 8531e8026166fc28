/**
 * Typed errors of the repository library. Every expected failure carries a stable `code`
 * (for tasks, the API and the CLI) and a message an admin can act on.
 */

export type RepositoryErrorCode =
  | 'REPO_PATH_MISSING'
  | 'REPO_NOT_A_REPOSITORY'
  | 'REPO_ALREADY_EXISTS'
  | 'REPO_UNSUPPORTED_VERSION'
  | 'REPO_CONFIG_CORRUPT'
  | 'REPO_PASSWORD_REQUIRED'
  | 'REPO_WRONG_PASSWORD'
  | 'REPO_RECOVERY_KEY_INVALID'
  | 'REPO_NOT_ENCRYPTED'
  | 'REPO_NO_SPACE'
  | 'REPO_READ_ONLY'
  | 'REPO_PERMISSION_DENIED'
  | 'REPO_IO_ERROR'
  | 'REPO_LOCKED'
  | 'REPO_GC_RACE'
  | 'REPO_OBJECT_LOCKED'
  | 'BACKUP_NOT_FOUND'
  | 'BACKUP_EXISTS'
  | 'DISK_NOT_FOUND'
  | 'MANIFEST_CORRUPT'
  | 'CHUNK_MISSING'
  | 'CHUNK_CORRUPT'
  | 'SOURCE_ERROR'
  | 'RESTORE_TARGET_FAILED'
  | 'WRITER_CLOSED'
  | 'INVALID_ARGUMENT';

export class RepositoryError extends Error {
  readonly code: RepositoryErrorCode;
  /** The file or directory the error is about, when there is one. */
  readonly path: string | undefined;

  constructor(code: RepositoryErrorCode, message: string, options?: { path?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.path = options?.path;
  }
}

export class RepositoryPathMissingError extends RepositoryError {
  constructor(path: string, cause?: unknown) {
    super(
      'REPO_PATH_MISSING',
      `Backup destination ${path} does not exist. Check the path, and that the disk or network share is mounted on this node.`,
      { path, cause },
    );
  }
}

export class NotARepositoryError extends RepositoryError {
  constructor(path: string, detail?: string) {
    super(
      'REPO_NOT_A_REPOSITORY',
      `${path} is not a vPlus backup repository${detail ? ` (${detail})` : ''}. Check the path, or initialise a new repository there.`,
      { path },
    );
  }
}

export class RepositoryExistsError extends RepositoryError {
  constructor(path: string, detail: string) {
    super('REPO_ALREADY_EXISTS', `Cannot create a repository at ${path}: ${detail}.`, { path });
  }
}

export class UnsupportedVersionError extends RepositoryError {
  constructor(path: string, version: unknown) {
    super(
      'REPO_UNSUPPORTED_VERSION',
      `Repository at ${path} has format version ${String(version)}, which this version of vPlus cannot read. Upgrade the node software.`,
      { path },
    );
  }
}

export class WrongPasswordError extends RepositoryError {
  constructor(path: string) {
    super(
      'REPO_WRONG_PASSWORD',
      `The password for the encrypted repository at ${path} is wrong. Enter the password that was set when the destination was created.`,
      { path },
    );
  }
}

export class PasswordRequiredError extends RepositoryError {
  constructor(path: string) {
    super('REPO_PASSWORD_REQUIRED', `The repository at ${path} is encrypted; a password is required to open it.`, {
      path,
    });
  }
}

export class NotEncryptedError extends RepositoryError {
  constructor(path: string) {
    super(
      'REPO_NOT_ENCRYPTED',
      `The repository at ${path} is not encrypted, but a password was given. Remove the password from the destination settings, or use an encrypted destination.`,
      { path },
    );
  }
}

export class NoSpaceError extends RepositoryError {
  constructor(repoPath: string, action: string, cause?: unknown) {
    super(
      'REPO_NO_SPACE',
      `No space left on the backup destination ${repoPath} while ${action}. Earlier backups are intact. Garbage-collect the destination to free at once what failed and pruned backups left (vplus destination gc <destination> --wait, or Destinations → Garbage collect); prune old backups first if that is not enough, or choose a larger destination.`,
      { path: repoPath, cause },
    );
  }
}

export class ReadOnlyError extends RepositoryError {
  constructor(repoPath: string, action: string, cause?: unknown) {
    super(
      'REPO_READ_ONLY',
      `The backup destination ${repoPath} is read-only (while ${action}). Remount it read-write.`,
      { path: repoPath, cause },
    );
  }
}

export class PermissionDeniedError extends RepositoryError {
  constructor(repoPath: string, action: string, cause?: unknown) {
    super(
      'REPO_PERMISSION_DENIED',
      `Permission denied on the backup destination ${repoPath} while ${action}. Give the node service's user read and write access to it.`,
      { path: repoPath, cause },
    );
  }
}

/** An object under object lock (FORMAT.md "Object stores") cannot be deleted before its retention ends. */
export class ObjectLockedError extends RepositoryError {
  constructor(
    repoPath: string,
    readonly object: string,
    /** When the lock ends (ms since the epoch). */
    readonly lockedUntilMs: number,
  ) {
    super('REPO_OBJECT_LOCKED', `${object} in ${repoPath} is under object lock until ${new Date(lockedUntilMs).toISOString()} and cannot be deleted before then.`, { path: repoPath });
  }
}

/** Deleting a backup whose manifest is still under object lock. */
export class BackupLockedError extends RepositoryError {
  constructor(
    repoPath: string,
    readonly backupId: string,
    readonly lockedUntilMs: number,
  ) {
    super(
      'REPO_OBJECT_LOCKED',
      `Backup ${backupId} in ${repoPath} is immutable (object lock) until ${new Date(lockedUntilMs).toISOString()}; it cannot be deleted before then.`,
      { path: repoPath },
    );
  }
}

export class RepositoryIoError extends RepositoryError {
  constructor(repoPath: string, action: string, cause?: unknown) {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    super(
      'REPO_IO_ERROR',
      `I/O error on the backup destination ${repoPath} while ${action}${detail}. Check the disk or network share.`,
      { path: repoPath, cause },
    );
  }
}

export class RepositoryLockedError extends RepositoryError {
  constructor(repoPath: string, detail: string) {
    super('REPO_LOCKED', `The repository at ${repoPath} is busy: ${detail}. Retry when it has finished.`, {
      path: repoPath,
    });
  }
}

export class GcRaceError extends RepositoryError {
  constructor(backupId: string, missing: number) {
    super(
      'REPO_GC_RACE',
      `Backup ${backupId} was not committed: garbage collection ran while it was stalled and ${missing} chunk(s) it reuses are gone. Run the backup again (as a full backup).`,
    );
  }
}

export class BackupNotFoundError extends RepositoryError {
  constructor(repoPath: string, backupId: string) {
    super('BACKUP_NOT_FOUND', `Backup ${backupId} does not exist in the repository at ${repoPath}.`, {
      path: repoPath,
    });
  }
}

export class BackupExistsError extends RepositoryError {
  constructor(repoPath: string, backupId: string) {
    super('BACKUP_EXISTS', `A backup with id ${backupId} already exists in the repository at ${repoPath}; use a new id.`, {
      path: repoPath,
    });
  }
}

export class DiskNotFoundError extends RepositoryError {
  constructor(backupId: string, disk: string) {
    super('DISK_NOT_FOUND', `Backup ${backupId} has no disk named "${disk}".`);
  }
}

export class ManifestCorruptError extends RepositoryError {
  constructor(path: string, detail: string, cause?: unknown) {
    super(
      'MANIFEST_CORRUPT',
      `Backup manifest ${path} is damaged or was tampered with (${detail}). That backup cannot be restored.`,
      { path, cause },
    );
  }
}

export class ChunkMissingError extends RepositoryError {
  readonly chunkId: string;
  constructor(path: string, chunkId: string) {
    super('CHUNK_MISSING', `Chunk ${chunkId} is missing from the repository (${path}). Run verify to see which backups are affected.`, {
      path,
    });
    this.chunkId = chunkId;
  }
}

export class ChunkCorruptError extends RepositoryError {
  readonly chunkId: string;
  constructor(path: string, chunkId: string, detail: string) {
    super('CHUNK_CORRUPT', `Chunk ${chunkId} is damaged (${detail}). Run verify to see which backups are affected.`, {
      path,
    });
    this.chunkId = chunkId;
  }
}

export class SourceError extends RepositoryError {
  constructor(disk: string, detail: string, cause?: unknown) {
    super('SOURCE_ERROR', `Reading disk "${disk}" failed: ${detail}.`, { cause });
  }
}

export class RestoreTargetError extends RepositoryError {
  constructor(file: string, action: string, cause?: unknown) {
    const code = errnoCode(cause);
    const why =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'no space left there'
        : code === 'EROFS'
          ? 'it is on a read-only filesystem'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : cause instanceof Error
              ? cause.message
              : String(cause);
    super('RESTORE_TARGET_FAILED', `Cannot write the restore target ${file} while ${action}: ${why}.`, { path: file, cause });
  }
}

export class WriterClosedError extends RepositoryError {
  constructor(backupId: string, state: string) {
    super('WRITER_CLOSED', `Backup ${backupId} is already ${state}; start a new backup.`);
  }
}

export class InvalidArgumentError extends RepositoryError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Turns a raw filesystem error from an operation on the destination into a typed error
 * that names the destination. Typed errors pass through unchanged.
 */
export function toRepositoryError(err: unknown, repoPath: string, action: string): RepositoryError {
  if (err instanceof RepositoryError) return err;
  switch (errnoCode(err)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new NoSpaceError(repoPath, action, err);
    case 'EROFS':
      return new ReadOnlyError(repoPath, action, err);
    case 'EACCES':
    case 'EPERM':
      return new PermissionDeniedError(repoPath, action, err);
    default:
      return new RepositoryIoError(repoPath, action, err);
  }
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errnoCode(err);
  return code !== undefined && codes.includes(code);
}
