import { z } from 'zod';
import { RepoBackupSchema } from './api/destinations.js';

/**
 * Parameters and results of the KVM task types, shared by the server (which
 * creates the tasks and records their results) and the node (which runs
 * them). Repository access comes in `repository` (path + password), which the
 * server adds at dispatch for tasks whose params carry `destinationId`; a
 * workflow step receives the result of the step before it in `previousResult`.
 */
export const DomainDiskSchema = z.object({
  target: z.string(),
  path: z.string().nullable(),
  format: z.string().nullable(),
  virtualBytes: z.number(),
  allocatedBytes: z.number().nullable(),
});

export const DomainSchema = z.object({
  name: z.string(),
  uuid: z.string(),
  state: z.string(),
  vcpus: z.number().int(),
  memoryBytes: z.number(),
  disks: z.array(DomainDiskSchema),
});

export const InventorySyncParamsSchema = z.object({ uri: z.string() });
export const InventorySyncResultSchema = z.object({ domains: z.array(DomainSchema), libvirtVersion: z.string().nullable().optional() });

export const ChainSchema = z.object({ checkpoint: z.string(), backupId: z.string() });

/** EXPORT: make a point-in-time image available (checkpoint + pull-mode backup job, or the files of a shut-off VM). */
export const ExportParamsSchema = z.object({
  uri: z.string(),
  vm: z.object({ uuid: z.string(), name: z.string() }),
  destinationId: z.number().int(),
  mode: z.enum(['auto', 'full']),
  previous: ChainSchema.nullable(),
  excludeDisks: z.array(z.string()),
});
export const ExportResultSchema = z.object({
  /** Handle of the export kept open on the node until STORE ends it. */
  exportId: z.string(),
  type: z.enum(['full', 'incremental']),
  disks: z.array(z.object({ target: z.string(), size: z.number() })),
  warnings: z.array(z.string()),
});

/** STORE: read the export (only dirty extents for an incremental), write the repository, commit, end the export. */
export const StoreParamsSchema = z.object({
  destinationId: z.number().int(),
  vm: z.object({ uuid: z.string(), name: z.string() }),
  /** Checkpoints other destinations' chains start from: the cleanup after the backup keeps them. */
  keepCheckpoints: z.array(z.string()).default([]),
});
export const StoreResultSchema = z.object({
  backupId: z.string(),
  type: z.enum(['full', 'incremental']),
  /** The checkpoint the next incremental starts from (null for a shut-off VM without bitmaps). */
  checkpoint: z.string().nullable(),
  bytesRead: z.number(),
  logicalBytes: z.number(),
  disks: z.array(z.object({ target: z.string(), size: z.number(), changedBytes: z.number().nullable(), bytesRead: z.number() })),
  /** The catalog's entry for it, made from the committed manifest as REIMPORT makes it (absent from older nodes). */
  backup: RepoBackupSchema.optional(),
});

/** RESTORE: write a backup's disks (qcow2 or raw) plus the domain XML into a directory on the node. */
export const RestoreParamsSchema = z.object({
  destinationId: z.number().int(),
  backupId: z.string(),
  directory: z.string(),
  format: z.enum(['qcow2', 'raw']),
  disks: z.array(z.string()).optional(),
  overwrite: z.boolean(),
  /** Permission bits of the restored files (default 0600) and of directories the restore creates (default 0700). */
  fileMode: z.number().int().min(0).max(0o777).optional(),
  dirMode: z.number().int().min(0).max(0o777).optional(),
  /**
   * The first step of a restore as a new VM: the node checks that this name is free on the
   * hypervisor (unless `overwrite`) before it writes anything; the inventory may be stale.
   */
  importAs: z.object({ uri: z.string(), name: z.string() }).optional(),
  /** Leave what a failed restore wrote in place (default: removed). */
  keepOnFailure: z.boolean().optional(),
});
export const RestoreResultSchema = z.object({
  directory: z.string(),
  files: z.array(z.object({ target: z.string(), path: z.string(), format: z.string(), size: z.number() })),
  domainXmlPath: z.string().nullable(),
  /** Directories the restore made (outermost first); a failed IMPORT removes them again when empty. */
  createdDirectories: z.array(z.string()).optional(),
});

/**
 * IMPORT: define the restored VM as a new domain (new name, UUID, MACs), optionally start it.
 * A failed import removes the new definition and what the RESTORE wrote unless `keepOnFailure`.
 */
export const ImportParamsSchema = z.object({ uri: z.string(), name: z.string(), start: z.boolean(), overwrite: z.boolean(), keepOnFailure: z.boolean().optional() });
export const ImportResultSchema = z.object({ name: z.string(), uuid: z.string(), started: z.boolean() });

/** SNAPSHOT: libvirt internal snapshots (qcow2 disks) of one VM; every op answers with the VM's snapshots afterwards. */
export const SnapshotParamsSchema = z.object({
  uri: z.string(),
  vm: z.object({ uuid: z.string(), name: z.string() }),
  op: z.enum(['create', 'list', 'revert', 'delete']),
  /** Required for revert and delete; for create the node picks `vplus-<UTC time>` when absent. */
  name: z.string().min(1).max(64).optional(),
  /**
   * Snapshot policies: after a create, delete the oldest snapshots whose names start with
   * `prefix` until `keep` of them are left (the one just made counts). Others are never touched.
   */
  rotate: z
    .object({
      prefix: z.string().min(8).max(48),
      keep: z.number().int().min(1).max(1000),
      /** Also delete the policy's snapshots older than this (never the one just made). */
      maxAgeDays: z.number().int().min(1).max(100_000).optional(),
    })
    .optional(),
  /** Revert only: delete the VM's vPlus backup checkpoints first (the next backup is then a full one). */
  discardCheckpoints: z.boolean().optional(),
});
export const SnapshotInfoSchema = z.object({
  name: z.string(),
  /** ISO 8601 (libvirt's creation time). */
  createdAt: z.string(),
  /** The domain state the snapshot captured: running (with memory), shutoff, paused… */
  state: z.string(),
  current: z.boolean(),
});
export const SnapshotResultSchema = z.object({ snapshots: z.array(SnapshotInfoSchema) });
