import type { Vm } from '@common/api/index.js';
import { Badge } from '@mantine/core';
import { IconCalendarOff, IconShieldCheck, IconShieldOff } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { NO_SHRINK } from '../utils/styles.js';

/** A backup this recent still protects a VM that no policy backs up (it was run by hand). */
export const RECENT_BACKUP_DAYS = 7;

function hasRecentBackup(lastBackupAt: string | null | undefined, nowMs = Date.now()): boolean {
  if (!lastBackupAt) return false;
  const at = Date.parse(lastBackupAt);
  return Number.isFinite(at) && nowMs - at <= RECENT_BACKUP_DAYS * 86_400_000;
}

/**
 * The policy that backs the VM up (a link to it with `link`); without one, "No policy" while it
 * has a recent backup (it is protected, just not on a schedule), else "Unprotected".
 */
export function ProtectionBadge({ vm, size = 'sm', link = false }: { vm: Pick<Vm, 'policy'> & Partial<Pick<Vm, 'lastBackupAt'>>; size?: 'sm' | 'lg'; link?: boolean }) {
  if (vm.policy === null && hasRecentBackup(vm.lastBackupAt)) {
    return (
      <Badge
        component="span"
        color="gray"
        variant="outline"
        size={size}
        tt="none"
        style={NO_SHRINK}
        leftSection={<IconCalendarOff size={12} aria-hidden />}
        title={`Backed up ${new Date(vm.lastBackupAt ?? '').toLocaleString()}, but no policy schedules its backups`}
        data-protected="no-policy"
      >
        No policy
      </Badge>
    );
  }
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
