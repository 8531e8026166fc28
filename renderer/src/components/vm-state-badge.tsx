import type { Vm } from '@common/api/index.js';
import { Badge, Tooltip } from '@mantine/core';
import { NO_SHRINK } from '../utils/styles.js';
import { describeVmState } from '../utils/vm-format.js';

/** The VM's state on its host; "Missing" (with why, on hover or focus) once the host no longer lists it. */
export function VmStateBadge({ vm, size = 'sm' }: { vm: Pick<Vm, 'state' | 'present' | 'hypervisor'>; size?: 'sm' | 'lg' }) {
  const view = describeVmState(vm);
  const why = vm.present ? null : `${vm.hypervisor} no longer lists this VM. Backups taken of it stay in their destinations.`;
  const badge = (
    <Badge
      component="span"
      color={view.color}
      variant={view.variant}
      size={size}
      style={NO_SHRINK}
      data-state={vm.present ? vm.state : 'missing'}
      tabIndex={why === null ? undefined : 0}
      aria-description={why ?? undefined}
    >
      {view.label}
    </Badge>
  );
  if (why === null) return badge;
  return (
    <Tooltip label={why} multiline maw={320} withArrow>
      {badge}
    </Tooltip>
  );
}
