/** The cloud server's metadata of protected objects (M365 drives and libraries), stored on the destination. */
export { ObjectStore, openObjectStore } from './object-store.js';
export type { BeginPointOptions, CommitPointInput, FolderRef, ObjectStoreOptions } from './object-store.js';
export type { ItemInput, UpsertResult } from './point-session.js';
export { PointView } from './point-view.js';
export type { ItemKind, ItemView, VersionRow } from './point-view.js';
export type { Baseline } from './work-db.js';
export { METADATA_SCHEMA_VERSION } from './schema.js';
