import { TASK_STATES, TASK_TYPES, type TaskListQuery, type TaskState, type TaskType } from '@common/api/index.js';
import { dayEnd, dayStart } from '../../utils/day-range.js';

export interface TaskFilters {
  state: TaskState | null;
  type: TaskType | null;
  /** Node id, as a string (what the server's `node` filter and the select use). */
  node: string | null;
  /** Exactly this subject, e.g. "vm:web-1". */
  subject: string;
  /** Days as YYYY-MM-DD in the browser's time zone, both included. */
  from: string | null;
  to: string | null;
}

export const NO_TASK_FILTERS: TaskFilters = { state: null, type: null, node: null, subject: '', from: null, to: null };

function oneOf<T extends string>(values: readonly T[], raw: string | null): T | null {
  return raw !== null && (values as readonly string[]).includes(raw) ? (raw as T) : null;
}

const day = (raw: string | null): string | null => (raw !== null && /^\d{4}-\d{2}-\d{2}$/.test(raw) ? raw : null);

/** The URL is the filters' single source of truth, so a filtered view can be bookmarked and shared. */
export function parseTaskSearch(params: URLSearchParams): TaskFilters {
  const node = params.get('node');
  return {
    state: oneOf(TASK_STATES, params.get('state')),
    type: oneOf(TASK_TYPES, params.get('type')),
    node: node !== null && node !== '' ? node : null,
    subject: params.get('subject') ?? '',
    from: day(params.get('from')),
    to: day(params.get('to')),
  };
}

/** Empty filters are left out, so the plain /tasks stays plain. */
export function toTaskSearchParams(filters: TaskFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.state !== null) params.set('state', filters.state);
  if (filters.type !== null) params.set('type', filters.type);
  if (filters.node !== null) params.set('node', filters.node);
  if (filters.subject.trim() !== '') params.set('subject', filters.subject);
  if (filters.from !== null) params.set('from', filters.from);
  if (filters.to !== null) params.set('to', filters.to);
  return params;
}

export const hasTaskFilters = (filters: TaskFilters): boolean => toTaskSearchParams(filters).size > 0;

/** The server's query for one page of these filters. */
export function toTaskListQuery(filters: TaskFilters, limit: number, cursor: string | undefined): TaskListQuery {
  const subject = filters.subject.trim();
  return {
    limit,
    ...(cursor === undefined ? {} : { cursor }),
    ...(filters.state === null ? {} : { state: filters.state }),
    ...(filters.type === null ? {} : { type: filters.type }),
    ...(filters.node === null ? {} : { node: filters.node }),
    ...(subject === '' ? {} : { subject }),
    ...(filters.from === null ? {} : { from: dayStart(filters.from) }),
    ...(filters.to === null ? {} : { to: dayEnd(filters.to) }),
  };
}
