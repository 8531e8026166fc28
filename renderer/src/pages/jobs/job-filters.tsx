import { TASK_STATES, type TaskState } from '@common/api/index.js';
import { Button, CloseButton, Group, Select, Switch, Text } from '@mantine/core';
import { IconFilterOff } from '@tabler/icons-react';
import { describeSubject, subjectInfo } from '@common/api/task-subject.js';
import type { JobListFilters } from '../../api/jobs.queries.js';
import { TASK_STATE_LABELS } from '../../utils/task-labels.js';
import { jobKindLabel } from './job-labels.js';

/** What the jobs page filters by, kept in its address (?kind=&state=&subject=&flat=1). */
export interface JobFilters {
  kind: string | null;
  state: TaskState | null;
  subject: string | null;
  /** Each VM's job of a policy run on a line of its own, instead of the run. */
  flat: boolean;
}

const KINDS = ['POLICY_RUN', 'BACKUP', 'RESTORE', 'MOUNT', 'FILE_RESTORE', 'SNAPSHOT', 'RETENTION', 'VERIFY'];
const KIND_OPTIONS = KINDS.map((kind) => ({ value: kind, label: jobKindLabel(kind) }));
const STATE_OPTIONS = TASK_STATES.map((state) => ({ value: state, label: TASK_STATE_LABELS[state] }));

export function parseJobSearch(params: URLSearchParams): JobFilters {
  const state = params.get('state');
  const kind = params.get('kind');
  return {
    kind: kind !== null && /^[A-Z_]{1,32}$/.test(kind) ? kind : null,
    state: TASK_STATES.find((s) => s === state) ?? null,
    subject: params.get('subject') || null,
    flat: params.get('flat') === '1',
  };
}

export function toJobSearchParams(f: JobFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (f.kind !== null) params.set('kind', f.kind);
  if (f.state !== null) params.set('state', f.state);
  if (f.subject !== null) params.set('subject', f.subject);
  if (f.flat) params.set('flat', '1');
  return params;
}

export function toJobListQuery(f: JobFilters, limit: number): JobListFilters {
  return { limit, kind: f.kind ?? undefined, state: f.state ?? undefined, subject: f.subject ?? undefined, flat: f.flat ? '1' : undefined };
}

export const hasJobFilters = (f: JobFilters): boolean => f.kind !== null || f.state !== null || f.subject !== null || f.flat;

const NONE: JobFilters = { kind: null, state: null, subject: null, flat: false };

/** Kind and state, served by the server; a subject (a VM's jobs, linked from its page) can be cleared. */
export function JobFiltersBar({ values, onChange }: { values: JobFilters; onChange: (next: JobFilters) => void }) {
  const subject = values.subject === null ? null : (describeSubject(subjectInfo(values.subject), (iso) => iso) ?? values.subject);
  return (
    <Group mb="md" align="flex-end" gap="sm">
      <Select label="Kind" placeholder="Any kind" data={KIND_OPTIONS} value={values.kind} onChange={(kind) => onChange({ ...values, kind })} clearable w={190} />
      <Select label="State" placeholder="Any state" data={STATE_OPTIONS} value={values.state} onChange={(state) => onChange({ ...values, state })} clearable w={190} />
      <Switch
        label="Each VM of a policy run on its own line"
        checked={values.flat || values.subject !== null}
        disabled={values.subject !== null}
        onChange={(e) => onChange({ ...values, flat: e.currentTarget.checked })}
        mb={8}
      />
      {subject !== null && (
        <Group gap={4} mb={6}>
          <Text size="sm">{`Jobs of ${subject}`}</Text>
          <CloseButton size="sm" aria-label={`Show all jobs, not only those of ${subject}`} onClick={() => onChange({ ...values, subject: null })} />
        </Group>
      )}
      {hasJobFilters(values) && (
        <Button variant="subtle" leftSection={<IconFilterOff size={16} aria-hidden />} onClick={() => onChange(NONE)}>
          Clear filters
        </Button>
      )}
    </Group>
  );
}
