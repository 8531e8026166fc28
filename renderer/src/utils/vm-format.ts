import type { Backup, Vm } from '@common/api/index.js';
import { formatBytes } from './format.js';

export interface VmStateView {
  label: string;
  color: string;
  /** Outlined for states that need a look (missing, crashed…), light for the usual ones. */
  variant: 'light' | 'outline';
}

/** libvirt's words (virsh domstate) for people; a VM gone from its host is "Missing" whatever it was. */
export function describeVmState(vm: Pick<Vm, 'state' | 'present'>): VmStateView {
  if (!vm.present) return { label: 'Missing', color: 'red', variant: 'outline' };
  switch (vm.state) {
    case 'running':
      return { label: 'Running', color: 'green', variant: 'light' };
    case 'shut off':
      return { label: 'Shut off', color: 'gray', variant: 'light' };
    case 'paused':
      return { label: 'Paused', color: 'yellow', variant: 'light' };
    case 'pmsuspended':
      return { label: 'Suspended', color: 'yellow', variant: 'light' };
    case 'in shutdown':
      return { label: 'Shutting down', color: 'blue', variant: 'light' };
    case 'crashed':
      return { label: 'Crashed', color: 'red', variant: 'outline' };
    case 'blocked':
      return { label: 'Blocked', color: 'orange', variant: 'outline' };
    default: {
      const label = vm.state === '' ? 'Unknown' : vm.state.charAt(0).toUpperCase() + vm.state.slice(1);
      return { label, color: 'gray', variant: 'outline' };
    }
  }
}

export const BACKUP_TYPE_LABELS: Record<NonNullable<Backup['type']>, string> = { full: 'Full', incremental: 'Incremental' };

/** Sum of the disks' virtual sizes: what a full restore writes. */
export function totalDiskBytes(vm: Pick<Vm, 'disks'>): number {
  return vm.disks.reduce((sum, disk) => sum + disk.virtualBytes, 0);
}

/** "2 disks · 40.0 GiB" */
export function describeDisks(vm: Pick<Vm, 'disks'>): string {
  const count = vm.disks.length;
  if (count === 0) return 'No disks';
  return `${count} ${count === 1 ? 'disk' : 'disks'} · ${formatBytes(totalDiskBytes(vm))}`;
}

/** Matches the search box: name, UUID or hypervisor, any case. */
export function vmMatchesSearch(vm: Pick<Vm, 'name' | 'uuid' | 'hypervisor'>, search: string): boolean {
  const needle = search.trim().toLowerCase();
  if (needle === '') return true;
  return [vm.name, vm.uuid, vm.hypervisor].some((value) => value.toLowerCase().includes(needle));
}

/** Present VMs first (they are what people act on), then by name. */
export function compareVms(a: Vm, b: Vm): number {
  if (a.present !== b.present) return a.present ? -1 : 1;
  return a.name.localeCompare(b.name) || a.hypervisor.localeCompare(b.hypervisor);
}

/** "Virtual machines: 5 (2 unprotected)": VMs still on their hosts, and those no policy covers. */
export function countVms(vms: readonly Vm[]): { total: number; unprotected: number } {
  const present = vms.filter((vm) => vm.present);
  return { total: present.length, unprotected: present.filter((vm) => vm.policy === null).length };
}
