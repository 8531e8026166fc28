import { Badge, Tooltip, type MantineColor } from '@mantine/core';
import { NO_SHRINK } from '../utils/styles.js';

export interface StatusBadgeProps {
  label: string;
  color: MantineColor;
  variant?: 'light' | 'outline';
  size?: 'sm' | 'lg';
  /** Why it is in that state (what failed, why it was missed); null or empty for nothing to tell. */
  message?: string | null;
  tooltipWidth?: number;
  'data-state'?: string;
  'data-status'?: string;
}

/** A state or status; the reason behind it, when there is one, one hover or focus away. */
export function StatusBadge({ label, color, variant = 'light', size = 'sm', message, tooltipWidth = 360, ...data }: StatusBadgeProps) {
  const reason = message === null || message === undefined || message === '' ? null : message;
  const badge = (
    <Badge
      // A span, so the badge may sit inside running text (a page's description line).
      component="span"
      color={color}
      variant={variant}
      size={size}
      style={NO_SHRINK}
      {...data}
      // Focusable only when there is a reason to read, so keyboard users reach the tooltip.
      tabIndex={reason === null ? undefined : 0}
      aria-description={reason ?? undefined}
    >
      {label}
    </Badge>
  );
  if (reason === null) return badge;
  return (
    <Tooltip label={reason} multiline maw={tooltipWidth} withArrow>
      {badge}
    </Tooltip>
  );
}
