import type { PolicyRun } from '@common/api/index.js';
import { Badge, Tooltip } from '@mantine/core';
import { POLICY_RUN_STATE_COLORS, POLICY_RUN_STATE_LABELS } from '../utils/policy-format.js';
import { NO_SHRINK } from '../utils/styles.js';

/** A policy run's state; its message (why it failed, why it was missed) one hover or focus away. */
export function PolicyRunStateBadge({ run, size = 'sm' }: { run: Pick<PolicyRun, 'state' | 'message'>; size?: 'sm' | 'lg' }) {
  const message = run.message === null || run.message === '' ? null : run.message;
  const badge = (
    <Badge
      component="span"
      color={POLICY_RUN_STATE_COLORS[run.state]}
      variant={run.state === 'missed' ? 'outline' : 'light'}
      size={size}
      style={NO_SHRINK}
      data-state={run.state}
      tabIndex={message === null ? undefined : 0}
      aria-description={message ?? undefined}
    >
      {POLICY_RUN_STATE_LABELS[run.state]}
    </Badge>
  );
  if (message === null) return badge;
  return (
    <Tooltip label={message} multiline maw={360} withArrow>
      {badge}
    </Tooltip>
  );
}
