import { Text, Tooltip } from '@mantine/core';
import { useNow } from '../hooks/use-now.js';
import { formatDateTime, formatRelativeTime } from '../utils/format.js';

/** "5 min ago", kept fresh, with the exact time in a tooltip and in the <time> element. */
export function RelativeTime({ iso, never = 'Never', size = 'sm' }: { iso: string | null; never?: string; size?: 'xs' | 'sm' }) {
  // The timer only re-renders every 15 s; a time that just changed (an event moved it) must not
  // be compared with a clock up to 15 s old, or it reads "in 10s".
  const now = Math.max(useNow(15_000, iso !== null), Date.now());
  if (iso === null) {
    return (
      <Text size={size} c="dimmed">
        {never}
      </Text>
    );
  }
  return (
    <Tooltip label={formatDateTime(iso)} openDelay={300}>
      <Text size={size} component="time" dateTime={iso} style={{ whiteSpace: 'nowrap' }}>
        {formatRelativeTime(iso, now, never)}
      </Text>
    </Tooltip>
  );
}
