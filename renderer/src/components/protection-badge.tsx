import type { Vm } from '@common/api/index.js';
import { Badge } from '@mantine/core';
import { IconShieldCheck, IconShieldOff } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { NO_SHRINK } from '../utils/styles.js';

/** The policy that backs the VM up (a link to it with `link`), or "Unprotected" when none does. */
export function ProtectionBadge({ vm, size = 'sm', link = false }: { vm: Pick<Vm, 'policy'>; size?: 'sm' | 'lg'; link?: boolean }) {
  if (vm.policy === null) {
    return (
      <Badge component="span" color="orange" variant="outline" size={size} style={NO_SHRINK} leftSection={<IconShieldOff size={12} aria-hidden />} data-protected="false">
        Unprotected
      </Badge>
    );
  }
  const look = {
    color: 'teal',
    variant: 'light',
    size,
    tt: 'none',
    leftSection: <IconShieldCheck size={12} aria-hidden />,
    'data-protected': 'true',
    title: `Protected by policy ${vm.policy}`,
  } as const;
  if (link) {
    return (
      <Badge {...look} component={Link} to={`/policies/${encodeURIComponent(vm.policy)}`} style={{ ...NO_SHRINK, cursor: 'pointer' }}>
        {vm.policy}
      </Badge>
    );
  }
  return (
    <Badge {...look} component="span" style={NO_SHRINK}>
      {vm.policy}
    </Badge>
  );
}
