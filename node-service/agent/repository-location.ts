/**
 * Opening a destination's repository from what the server sends with every task on it
 * (`repository: { path, password?, s3? }`): a directory on this node, or (S3) a prefix of a
 * bucket reached with the credentials in `s3`. Every task and node call that opens a
 * repository goes through here, so a directory and a bucket are opened the same way.
 */
import type { S3Repository } from '../../common/s3-location.js';
import { Repository, type InitOptions, type OpenOptions, type RepositoryDeps, type RepositoryLocation } from '../repository/index.js';

/** A destination's repository as the server names it: `path` is the directory, or (S3) the place as shown to people. */
export interface RepositoryRef {
  path: string;
  s3?: S3Repository | undefined;
}

export function repositoryLocation(ref: RepositoryRef): RepositoryLocation {
  return ref.s3 ? { s3: ref.s3 } : ref.path;
}


export function openRepository(ref: RepositoryRef, options: OpenOptions = {}, deps: RepositoryDeps = {}): Promise<Repository> {
  return Repository.open(repositoryLocation(ref), options, deps);
}

export function initRepository(ref: RepositoryRef, options: InitOptions = {}, deps: RepositoryDeps = {}): Promise<Repository> {
  return Repository.init(repositoryLocation(ref), options, deps);
}

export function openRepositoryWithRecoveryKey(ref: RepositoryRef, recoveryKey: string, deps: RepositoryDeps = {}): Promise<Repository> {
  return Repository.openWithRecoveryKey(repositoryLocation(ref), recoveryKey, deps);
}
