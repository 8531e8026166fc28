import { TASK_STATES, TASK_TYPES, type TaskState, type TaskType } from '@common/api/index.js';

export interface TaskFilters {
  state: TaskState | null;
  type: TaskType | null;
  /** Node id, as a string (what the server's `node` filter and the select use). */
  node: string | null;
}

export interface TaskSearch extends TaskFilters {
  page: number;
}

function oneOf<T extends string>(values: readonly T[], raw: string | null): T | null {
  return raw !== null && (values as readonly string[]).includes(raw) ? (raw as T) : null;
}

/** The URL is the filters' single source of truth, so a filtered view can be bookmarked and shared. */
export function parseTaskSearch(params: URLSearchParams): TaskSearch {
  const page = Number.parseInt(params.get('page') ?? '1', 10);
  const node = params.get('node');
  return {
    state: oneOf(TASK_STATES, params.get('state')),
    type: oneOf(TASK_TYPES, params.get('type')),
    node: node !== null && node !== '' ? node : null,
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

/** Empty filters and page 1 are left out, so the plain /tasks stays plain. */
export function toTaskSearchParams(search: TaskSearch): URLSearchParams {
  const params = new URLSearchParams();
  if (search.state !== null) params.set('state', search.state);
  if (search.type !== null) params.set('type', search.type);
  if (search.node !== null) params.set('node', search.node);
  if (search.page > 1) params.set('page', String(search.page));
  return params;
}
