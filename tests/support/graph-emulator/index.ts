export { GraphEmulator, type GraphEmulatorOptions } from './server.js';
export { ALL_FILE_ROLES, Site, Tenant, User, type AddAppOptions, type AddSiteOptions, type AddUserOptions, type AppRegistration } from './directory.model.js';
export { Drive, type DriveItemRecord, type DriveSeed, type SnapshotEntry } from './drive.model.js';
export { Content, type ContentSpec } from './content.js';
export { quickXorHash, QuickXorHash } from './quick-xor-hash.js';
export { makeAppCertificate, type AppCertificate } from './tls.js';
export type { DownloadFailure, RequestRecord, ThrottleRule } from './traffic.js';
export { EmulatorNetworkClient, msalConfig, trustingFetch, type AppCredential, type FetchFn, type TrustingFetch } from './client.js';
