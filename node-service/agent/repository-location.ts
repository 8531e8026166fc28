/**
 * Opening a destination's repository from what the server sends with every task on it
 * (`repository: { path, password?, s3? }`): a directory on this node, or (S3) a prefix of a
 * bucket reached with the credentials in `s3`. Every task and node call that opens a
 * repository goes through here, so a directory and a bucket are opened the same way.
 */
import type { S3Repository } from '../../common/s3-location.js';
import { Repository, type InitOptions, type OpenOptions, type RepositoryDeps } from '../repository/index.js';

/** Where a repository lives, as the repository library takes it. */
export type RepositoryLocation = string | { s3: S3Repository };

/** A destination's repository as the server names it: `path` is the directory, or (S3) the place as shown to people. */
export interface RepositoryRef {
  path: string;
  s3?: S3Repository | undefined;
}

export function repositoryLocation(ref: RepositoryRef): RepositoryLocation {
  return ref.s3 ? { s3: ref.s3 } : ref.path;
}

// The library takes a directory or { s3 } (node-service/repository: RepositoryLocation).
const library = Repository as unknown as {
  open(location: RepositoryLocation, options?: OpenOptions, deps?: RepositoryDeps): Promise<Repository>;
  init(location: RepositoryLocation, options?: InitOptions, deps?: RepositoryDeps): Promise<Repository>;
  openWithRecoveryKey(location: RepositoryLocation, recoveryKey: string, deps?: RepositoryDeps): Promise<Repository>;
};

export function openRepository(ref: RepositoryRef, options: OpenOptions = {}, deps: RepositoryDeps = {}): Promise<Repository> {
  return library.open(repositoryLocation(ref), options, deps);
}

export function initRepository(ref: RepositoryRef, options: InitOptions = {}, deps: RepositoryDeps = {}): Promise<Repository> {
  return library.init(repositoryLocation(ref), options, deps);
}

export function openRepositoryWithRecoveryKey(ref: RepositoryRef, recoveryKey: string, deps: RepositoryDeps = {}): Promise<Repository> {
  return library.openWithRecoveryKey(repositoryLocation(ref), recoveryKey, deps);
}
