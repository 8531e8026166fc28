import { CloudError, graphErrorOf } from './cloud-errors.js';
import type { GraphClient } from './graph-client.js';

/** JSON batching takes at most 20 requests per call (documented limit). */
export const BATCH_MAX = 20;

export interface BatchItem {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Relative to the Graph URL, e.g. "/drives/{id}/items/{id}". */
  url: string;
  body?: unknown;
  /** What it does, for messages. */
  what: string;
}

export type BatchOutcome<T = unknown> = { ok: true; body: T } | { ok: false; error: CloudError };

/** Statuses a request inside a batch may answer that mean "try again": sent again on their own, through the client's fence and retries. */
const AGAIN = new Set([429, 503, 500, 502, 504]);

interface BatchResponse {
  id: string;
  status: number;
  body?: unknown;
}

/**
 * Sends small requests (up to 20 per call) in one `POST /$batch` each, and answers each
 * request's outcome in order. A request the batch answered with 429/503 or a transient 5xx
 * is sent again alone, so the tenant's throttling fence and retries apply to it as to any
 * other; one that failed for good is that request's error, never the others'.
 */
export async function sendBatched<T = unknown>(graph: GraphClient, items: readonly BatchItem[], req: { what: string; owner?: string; signal?: AbortSignal }): Promise<BatchOutcome<T>[]> {
  const out: BatchOutcome<T>[] = new Array<BatchOutcome<T>>(items.length);
  for (let start = 0; start < items.length; start += BATCH_MAX) {
    const part = items.slice(start, start + BATCH_MAX);
    const requests = part.map((item, i) => ({
      id: String(i + 1),
      method: item.method,
      url: item.url,
      ...(item.body !== undefined ? { body: item.body, headers: { 'content-type': 'application/json' } } : {}),
    }));
    const answer = await graph.json<{ responses?: BatchResponse[] }>('/$batch', { ...req, method: 'POST', body: { requests } });
    const byId = new Map((answer.responses ?? []).map((r) => [r.id, r]));
    for (let i = 0; i < part.length; i++) {
      const item = part[i]!;
      const res = byId.get(String(i + 1));
      if (res && res.status >= 200 && res.status < 300) {
        out[start + i] = { ok: true, body: res.body as T };
        continue;
      }
      if (!res || AGAIN.has(res.status)) {
        out[start + i] = await graph
          .json<T>(item.url, { what: item.what, method: item.method, ...(item.body !== undefined ? { body: item.body } : {}), ...(req.owner ? { owner: req.owner } : {}), ...(req.signal ? { signal: req.signal } : {}) })
          .then((body): BatchOutcome<T> => ({ ok: true, body }))
          .catch((err: unknown): BatchOutcome<T> => {
            if (req.signal?.aborted) throw err;
            return { ok: false, error: err instanceof CloudError ? err : new CloudError('M365_REQUEST_FAILED', `${item.what} failed: ${(err as Error).message}`) };
          });
        continue;
      }
      out[start + i] = { ok: false, error: graphErrorOf(res.status, (res.body ?? null), item.what) };
    }
  }
  return out;
}
