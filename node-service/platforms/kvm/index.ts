/** Public API of the KVM/libvirt platform: inventory, backup of running VMs, restore to files. */
export { ChildProcessRunner } from './command-runner.js';
export type { CommandRunner, RunOptions, RunResult } from './command-runner.js';
export { Virsh } from './virsh.adapter.js';
export type { BlockInfo, DomainState } from './virsh.adapter.js';
export { KvmInventory } from './inventory.service.js';
export type { InventoryDisk, InventoryVm } from './inventory.service.js';
export { KvmBackup } from './kvm-backup.service.js';
export type { KvmBackupOptions, KvmBackupResult, KvmDiskResult, LogFn } from './kvm-backup.service.js';
export type { PreviousBackup } from './chain-check.js';
export { restoreToDirectory } from './kvm-restore.service.js';
export type { RestoredDisk, RestoreToDirectoryOptions, RestoreToDirectoryResult } from './kvm-restore.service.js';
export { NbdClient } from './nbd-client.js';
export type { Extent } from './nbd-client.js';
export { CommandError, KvmError } from './errors.js';
export type { KvmErrorCode } from './errors.js';
