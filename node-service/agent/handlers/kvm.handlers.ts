import type { TaskHandler } from '../task-handler.js';
import { kvmExportHandler } from './kvm-export.handler.js';
import { kvmImportHandler } from './kvm-import.handler.js';
import { kvmInventoryHandler } from './kvm-inventory.handler.js';
import { kvmRestoreHandler } from './kvm-restore.handler.js';
import { kvmSnapshotHandler } from './kvm-snapshot.handler.js';
import { kvmStoreHandler } from './kvm-store.handler.js';
import { withDefaults, type KvmHandlerDeps } from './kvm-task.js';

export type { KvmHandlerDeps } from './kvm-task.js';

/** The KVM/libvirt tasks: inventory, EXPORT + STORE (one backup), RESTORE to files, IMPORT as a new VM, SNAPSHOT. */
export function kvmHandlers(deps: Partial<KvmHandlerDeps> & Pick<KvmHandlerDeps, 'nodeName'>): TaskHandler[] {
  const d = withDefaults(deps);
  return [kvmInventoryHandler(d), kvmExportHandler(d), kvmStoreHandler(d), kvmRestoreHandler(d), kvmImportHandler(d), kvmSnapshotHandler(d)];
}
