import type { Backup } from '@common/api/index.js';
import { Badge } from '@mantine/core';
import { NO_SHRINK } from '../utils/styles.js';
import { BACKUP_TYPE_LABELS } from '../utils/vm-format.js';

type BackupType = NonNullable<Backup['type']>;

const COLORS: Record<BackupType, string> = { full: 'indigo', incremental: 'cyan' };

/** Full or incremental, in the same colours wherever a backup (done or planned) is shown. */
export function BackupTypeBadge({ type, size = 'sm' }: { type: BackupType; size?: 'xs' | 'sm' }) {
  return (
    <Badge component="span" size={size} variant="light" color={COLORS[type]} style={NO_SHRINK}>
      {BACKUP_TYPE_LABELS[type]}
    </Badge>
  );
}
