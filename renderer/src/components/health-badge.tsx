import { Badge } from '@mantine/core';

export function HealthBadge({ ok, okLabel = 'Healthy', badLabel = 'Unavailable' }: { ok: boolean; okLabel?: string; badLabel?: string }) {
  return (
    <Badge color={ok ? 'green' : 'red'} variant="light">
      {ok ? okLabel : badLabel}
    </Badge>
  );
}
