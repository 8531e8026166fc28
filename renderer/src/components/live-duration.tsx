import { Text } from '@mantine/core';
import { useNow } from '../hooks/use-now.js';
import { elapsedSeconds, formatShortDuration } from '../utils/format.js';

/** How long something took, counting up every second while it still runs. */
export function LiveDuration({ start, end }: { start: string | null; end: string | null }) {
  const now = useNow(1_000, start !== null && end === null);
  const seconds = elapsedSeconds(start, end, now);
  return (
    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
      {seconds === null ? '—' : formatShortDuration(Math.floor(seconds))}
    </Text>
  );
}
