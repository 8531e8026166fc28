import type { Vm } from '@common/api/index.js';
import { describeVmState } from '../utils/vm-format.js';
import { StatusBadge } from './status-badge.js';

/** The VM's state on its host; "Missing" (with why, on hover or focus) once the host no longer lists it. */
export function VmStateBadge({ vm, size = 'sm' }: { vm: Pick<Vm, 'state' | 'present' | 'hypervisor'>; size?: 'sm' | 'lg' }) {
  const view = describeVmState(vm);
  return (
    <StatusBadge
      label={view.label}
      color={view.color}
      variant={view.variant}
      size={size}
      message={vm.present ? null : `${vm.hypervisor} no longer lists this VM. Backups taken of it stay in their destinations.`}
      tooltipWidth={320}
      data-state={vm.present ? vm.state : 'missing'}
    />
  );
}
