import type { M365Tenant } from '@common/api/index.js';
import { StatusBadge } from '../../components/status-badge.js';

/** The last Test connection: signed in with every permission, or which one is missing (the sentence on hover). */
export function ConnectionBadge({ tenant, size = 'sm' }: { tenant: Pick<M365Tenant, 'test'>; size?: 'sm' | 'lg' }) {
  const test = tenant.test;
  if (test === null) return <StatusBadge label="Not tested" color="gray" variant="outline" size={size} data-status="unknown" />;
  if (test.ok) return <StatusBadge label="Connected" color="green" size={size} message={test.message} data-status="ok" />;
  return <StatusBadge label={`Missing ${test.missing.join(', ')}`} color="yellow" variant="outline" size={size} message={test.message} data-status="warning" />;
}

const SYNC: Record<M365Tenant['syncState'], { label: string; color: string }> = {
  never: { label: 'Not synced', color: 'gray' },
  ok: { label: 'Synced', color: 'green' },
  warning: { label: 'Synced with warnings', color: 'yellow' },
  failed: { label: 'Sync failed', color: 'red' },
};

/** How the last inventory sync went, with its reason on hover. */
export function SyncBadge({ tenant, size = 'sm' }: { tenant: Pick<M365Tenant, 'syncState' | 'syncMessage'>; size?: 'sm' | 'lg' }) {
  const { label, color } = SYNC[tenant.syncState];
  return <StatusBadge label={label} color={color} variant={tenant.syncState === 'ok' ? 'light' : 'outline'} size={size} message={tenant.syncMessage} data-status={tenant.syncState} />;
}
