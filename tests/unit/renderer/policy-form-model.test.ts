import { describe, expect, it } from 'vitest';
import { CreatePolicySchema } from '../../../common/api/policies.js';
import { createRequest, newPolicyValues, previewRequest, validatePolicyForm } from '../../../renderer/src/pages/policies/policy-form-model.js';

const lines = (...values: string[]) => values.map((value, i) => ({ key: `k${i}`, value }));

describe('the policy form: a Microsoft 365 policy', () => {
  const values = {
    ...newPolicyValues('m365'),
    name: 'm365-daily',
    destination: '3',
    schedules: lines('incremental daily 21:00', 'full sun 21:00'),
    include: lines('^alice@', '', '^finance$'),
    exclude: lines('^test-'),
    // Left from the backup kind before it was switched: an m365 policy takes no hypervisors.
    hypervisors: ['kvm1'],
  };

  it('sends its kind, destination, schedules, retention and name patterns, and no hypervisors', () => {
    const request = createRequest(values);
    expect(request).toMatchObject({
      kind: 'm365',
      destination: '3',
      schedules: ['incremental daily 21:00', 'full sun 21:00'],
      retention: { daily: 7, weekly: 4, monthly: 6 },
      assignment: { include: ['^alice@', '^finance$'], exclude: ['^test-'], hypervisors: [] },
    });
    expect(CreatePolicySchema.safeParse(request).success).toBe(true);
    expect(previewRequest(values, undefined)).toMatchObject({ kind: 'm365', assignment: { hypervisors: [] } });
  });

  it('needs a destination, as a backup policy does', () => {
    expect(validatePolicyForm({ ...values, destination: null })).toMatchObject({ destination: 'Choose where the backups are stored' });
  });
});
