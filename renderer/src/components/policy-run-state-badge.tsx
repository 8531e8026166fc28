import type { PolicyRun } from '@common/api/index.js';
import { POLICY_RUN_STATE_COLORS, POLICY_RUN_STATE_LABELS } from '../utils/policy-format.js';
import { StatusBadge } from './status-badge.js';

/** A policy run's state; its message (why it failed, why it was missed) one hover or focus away. */
export function PolicyRunStateBadge({ run, size = 'sm' }: { run: Pick<PolicyRun, 'state' | 'message'>; size?: 'sm' | 'lg' }) {
  return (
    <StatusBadge
      label={POLICY_RUN_STATE_LABELS[run.state]}
      color={POLICY_RUN_STATE_COLORS[run.state]}
      variant={run.state === 'missed' ? 'outline' : 'light'}
      size={size}
      message={run.message}
      data-state={run.state}
    />
  );
}
