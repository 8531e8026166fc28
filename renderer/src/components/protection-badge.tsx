import type { Vm } from '@common/api/index.js';
import { Badge } from '@mantine/core';
import { IconShieldCheck, IconShieldOff } from '@tabler/icons-react';
import { NO_SHRINK } from '../utils/styles.js';

/** The policy that backs the VM up, or "Unprotected" when none does. */
export function ProtectionBadge({ vm, size = 'sm' }: { vm: Pick<Vm, 'policy'>; size?: 'sm' | 'lg' }) {
  if (vm.policy === null) {
    return (
      <Badge component="span" color="orange" variant="outline" size={size} style={NO_SHRINK} leftSection={<IconShieldOff size={12} aria-hidden />} data-protected="false">
        Unprotected
      </Badge>
    );
  }
  return (
    <Badge
      component="span"
      color="teal"
      variant="light"
      size={size}
      style={NO_SHRINK}
      tt="none"
      leftSection={<IconShieldCheck size={12} aria-hidden />}
      data-protected="true"
      title={`Protected by policy ${vm.policy}`}
    >
      {vm.policy}
    </Badge>
  );
}
