import { z } from 'zod';
import { ID_LIKE_NAME_MESSAGE, notIdLike } from '../names.js';

export const HypervisorSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  nodeId: z.number().int(),
  node: z.string(),
  uri: z.string(),
  status: z.enum(['ok', 'error', 'unknown']),
  statusMessage: z.string().nullable(),
  vms: z.number().int(),
  lastSyncAt: z.string().nullable(),
  createdAt: z.string(),
});
export type Hypervisor = z.infer<typeof HypervisorSchema>;

export const CreateHypervisorSchema = z.object({
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'hypervisor names may contain letters, digits, ".", "_" and "-"').refine(notIdLike, ID_LIKE_NAME_MESSAGE),
  node: z.string().min(1).max(128).describe('the node running on this KVM host (id or name)'),
  uri: z.string().min(1).max(255).regex(/^qemu(\+\w+)?:\/\//, 'a libvirt URI such as qemu:///system').default('qemu:///system'),
});

export const HypervisorRefParamsSchema = z.object({ hypervisor: z.string().min(1).max(128) });

export const VmDiskSchema = z.object({
  target: z.string().describe('e.g. vda'),
  path: z.string().nullable(),
  format: z.string().nullable(),
  virtualBytes: z.number(),
  allocatedBytes: z.number().nullable(),
  excluded: z.boolean(),
});

export const VmSchema = z.object({
  id: z.number().int(),
  hypervisorId: z.number().int(),
  hypervisor: z.string(),
  name: z.string(),
  uuid: z.string(),
  state: z.string().describe('running, shut off, paused, … or missing when it vanished from the host'),
  present: z.boolean(),
  vcpus: z.number().int(),
  memoryBytes: z.number(),
  disks: z.array(VmDiskSchema),
  /** Its newest available backup. */
  lastBackupAt: z.string().nullable(),
  lastBackupType: z.enum(['full', 'incremental']).nullable(),
  /** Available backups. */
  backups: z.number().int(),
  /** Backups kept whatever retention says. */
  protectedBackups: z.number().int(),
  /** Backups verify found damaged. */
  damagedBackups: z.number().int(),
  policy: z.string().nullable(),
  updatedAt: z.string(),
});
export type Vm = z.infer<typeof VmSchema>;

export const VmRefParamsSchema = z.object({ vm: z.string().min(1).max(255).describe('id, name or UUID') });

export const UpdateVmSchema = z.object({
  /** Disk targets (vda, vdb…) left out of backups. */
  excludedDisks: z.array(z.string().min(1).max(32)).max(64),
});

export const RunBackupSchema = z.object({
  vm: z.string().min(1).max(255),
  destination: z.string().min(1).max(128),
  /** Force a full backup even when the checkpoint chain allows an incremental. */
  full: z.boolean().default(false),
});

export const RunBackupResponseSchema = z.object({ workflowId: z.number().int(), taskIds: z.array(z.number().int()) });

export const RestoreSchema = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('files'),
    backup: z.number().int().positive(),
    node: z.string().min(1).max(128),
    path: z.string().regex(/^\//, 'the path must be absolute').max(1024),
    format: z.enum(['qcow2', 'raw']).default('qcow2'),
    disks: z.array(z.string().min(1).max(32)).optional(),
    overwrite: z.boolean().default(false),
    /** Read the backup from its copy on this destination (an ok copy) instead of its own destination. */
    fromDestinationId: z.number().int().positive().optional(),
  }),
  z.object({
    mode: z.literal('import'),
    backup: z.number().int().positive(),
    hypervisor: z.string().min(1).max(128),
    name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'VM names may contain letters, digits, ".", "_" and "-"'),
    /** Where the disks go on the host: <storageDir>/<name>/; default /var/lib/libvirt/images. */
    storageDir: z.string().regex(/^\//).max(1024).optional(),
    start: z.boolean().default(false),
    overwrite: z.boolean().default(false),
    /** Keep the restored files when the import fails (default: a failed import removes them). */
    keepOnFailure: z.boolean().optional(),
    /** Read the backup from its copy on this destination (an ok copy) instead of its own destination. */
    fromDestinationId: z.number().int().positive().optional(),
  }),
]);
export type Restore = z.infer<typeof RestoreSchema>;

/** A VM's internal snapshot (libvirt), as the node listed it. */
export const SnapshotSchema = z.object({
  name: z.string(),
  createdAt: z.string(),
  state: z.string().describe('the VM state the snapshot captured: running (memory included), shutoff, paused…'),
  current: z.boolean().describe("libvirt's current snapshot (the last one taken or reverted to)"),
});
export type Snapshot = z.infer<typeof SnapshotSchema>;

const SnapshotNameSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'snapshot names may contain letters, digits, ".", "_" and "-"');

export const CreateSnapshotSchema = z
  .object({
    /** Default: vplus-<UTC time>-<hex>, chosen by the node. */
    name: SnapshotNameSchema.optional(),
  })
  .nullish();

export const RevertSnapshotSchema = z
  .object({
    /**
     * QEMU cannot load a snapshot while backup checkpoints (dirty bitmaps) exist. With this,
     * the VM's vPlus checkpoints are deleted first and its next backup is a full one.
     */
    discardCheckpoints: z.boolean().default(false),
  })
  .nullish();

export const SnapshotRefParamsSchema = z.object({ vm: z.string().min(1).max(255).describe('id, name or UUID'), name: z.string().min(1).max(64) });
