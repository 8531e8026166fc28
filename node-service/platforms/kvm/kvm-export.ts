/**
 * A point-in-time image of a VM's disks, open on this node between the EXPORT task (which
 * creates it) and the STORE task (which reads and ends it): a libvirt pull-mode backup job for
 * a running VM, or qemu-nbd servers over the files of a shut-off VM. Its record (export-record.ts)
 * lets a restarted node find and end what a dead process left open.
 */
import type { PreviousBackup } from './chain-check.js';
import type { DomainDiskXml } from './domain-xml.js';

export interface ExportedDisk extends DomainDiskXml {
  /** Virtual size as the NBD server reports it. */
  size: number;
}

export interface ExportTransport {
  /** Private directory of this export under the work directory. */
  readonly dir: string;
  socket(target: string): string;
  /** Metadata context naming the blocks changed since the base; null for a full export. */
  dirtyContext(target: string): string | null;
  /**
   * Stops serving the disks (once every byte is read) without deciding about the checkpoint,
   * so it can run while the repository commits; `end` does the rest. `served`: the caller's
   * NBD connection was just answered, so the export is still there (a libvirt job then needs
   * no ownership check before it is aborted). Returns problems as warnings.
   */
  stop(served?: boolean): Promise<string[]>;
  /** Ends the export (stopping it first if not yet); `succeeded` false also discards a checkpoint it created. Returns problems as warnings. */
  end(succeeded: boolean): Promise<string[]>;
}

export interface KvmExport {
  id: string;
  kind: 'pull' | 'offline';
  /** The libvirt connection the export was made on. */
  uri: string;
  vm: { name: string; uuid: string };
  type: 'full' | 'incremental';
  disks: ExportedDisk[];
  /** The persistent (inactive) domain XML, kept in the manifest for restore and import. */
  domainXml: string;
  /** The backup an incremental builds on; null for a full. */
  base: PreviousBackup | null;
  /** The checkpoint the next incremental will start from (null: none, the next backup is full). */
  checkpoint: string | null;
  warnings: string[];
  createdAt: number;
  transport: ExportTransport;
}
