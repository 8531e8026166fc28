import { Badge, Tooltip } from '@mantine/core';
import { NO_SHRINK } from '../utils/styles.js';

export type CheckStatus = 'ok' | 'error' | 'unknown';

const COLORS: Record<CheckStatus, string> = { ok: 'green', error: 'red', unknown: 'gray' };

/**
 * The outcome of the last check of something a node looks after (a destination, a
 * hypervisor), with the node's reason one hover or focus away.
 */
export function CheckStatusBadge({
  item,
  unknownLabel,
  size = 'sm',
}: {
  item: { status: CheckStatus; statusMessage: string | null };
  /** What "never checked" is called for this kind of thing ("Not checked", "Not synced"). */
  unknownLabel: string;
  size?: 'sm' | 'lg';
}) {
  const message = item.statusMessage === '' ? null : item.statusMessage;
  const label = item.status === 'ok' ? 'OK' : item.status === 'error' ? 'Error' : unknownLabel;
  const badge = (
    <Badge
      component="span"
      color={COLORS[item.status]}
      variant={item.status === 'ok' ? 'light' : 'outline'}
      size={size}
      style={NO_SHRINK}
      data-status={item.status}
      // Focusable only when there is a reason to read, so keyboard users reach the tooltip.
      tabIndex={message === null ? undefined : 0}
      aria-description={message ?? undefined}
    >
      {label}
    </Badge>
  );
  if (message === null) return badge;
  return (
    <Tooltip label={message} multiline maw={360} withArrow>
      {badge}
    </Tooltip>
  );
}
