/**
 * POST /$batch, JSON batching as documented: up to 20 requests {id, method, url, headers?, body?,
 * dependsOn?}; ids unique; each runs through the whole pipeline (authorization, throttling,
 * permissions) on its own, so one may answer 429 with its own Retry-After; a request whose
 * dependency failed answers 424; the batch itself answers 200 with {responses: [...]}, or 400
 * when malformed. A body is JSON with a JSON Content-Type, otherwise a base64 string.
 */
import { GraphError, type GraphResult } from './errors.js';
import { type GraphRoute, json } from './graph-routes.js';

interface BatchRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  dependsOn: string[];
}

function parseRequests(raw: unknown): BatchRequest[] {
  const bad = (why: string): GraphError => new GraphError(400, 'BadRequest', `Invalid batch payload format: ${why}`);
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { requests?: unknown }).requests)) throw bad("the body must hold a 'requests' array.");
  const list = (raw as { requests: unknown[] }).requests;
  if (list.length === 0) throw bad('no requests.');
  if (list.length > 20) throw new GraphError(400, 'BadRequest', 'The number of requests in a batch is limited to 20.');
  const seen = new Set<string>();
  return list.map((r) => {
    if (typeof r !== 'object' || r === null) throw bad('each request must be an object.');
    const o = r as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') throw bad("each request needs a string 'id'.");
    if (seen.has(o.id.toLowerCase())) throw new GraphError(400, 'BadRequest', `Batch request id '${o.id}' is not unique.`);
    seen.add(o.id.toLowerCase());
    if (typeof o.method !== 'string' || typeof o.url !== 'string') throw bad(`request ${o.id} needs 'method' and 'url'.`);
    const headers: Record<string, string> = {};
    if (typeof o.headers === 'object' && o.headers !== null) for (const [k, v] of Object.entries(o.headers)) headers[k.toLowerCase()] = String(v);
    if (o.body !== undefined && headers['content-type'] === undefined) throw bad(`request ${o.id} has a body but no Content-Type header.`);
    const dependsOn = Array.isArray(o.dependsOn) ? o.dependsOn.map(String) : [];
    return { id: o.id, method: o.method.toUpperCase(), url: o.url, headers, body: o.body, dependsOn };
  });
}

function bodyBuffer(r: BatchRequest): Buffer {
  if (r.body === undefined) return Buffer.alloc(0);
  if ((r.headers['content-type'] ?? '').includes('json')) return Buffer.from(JSON.stringify(r.body));
  if (typeof r.body === 'string') return Buffer.from(r.body, 'base64');
  return Buffer.from(JSON.stringify(r.body));
}

function responseOf(id: string, res: GraphResult): Record<string, unknown> {
  const headers: Record<string, string> = { ...(res.headers ?? {}) };
  let body: unknown;
  if (res.json !== undefined) {
    headers['Content-Type'] ??= 'application/json';
    body = res.json;
  } else if (res.body !== undefined && res.body.length > 0) {
    body = res.body.toString('base64');
  }
  return { id, status: res.status, headers, ...(body !== undefined ? { body } : {}) };
}

export const batchRoutes: GraphRoute[] = [
  {
    methods: ['POST'],
    pattern: /^\/\$batch\/?$/,
    roles: () => [],
    denial: 'directory',
    envelope: true,
    handle: async (_m, ctx) => {
      const raw = await ctx.body();
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new GraphError(400, 'BadRequest', 'Invalid batch payload format: the body is not JSON.');
      }
      const requests = parseRequests(parsed);
      const byId = new Map(requests.map((r) => [r.id, r]));
      for (const r of requests) for (const d of r.dependsOn) if (!byId.has(d)) throw new GraphError(400, 'BadRequest', `Request ${r.id} depends on unknown request ${d}.`);
      const visiting = new Set<string>();
      const acyclic = (id: string): void => {
        if (visiting.has(id)) throw new GraphError(400, 'BadRequest', `Request ${id} depends on itself through dependsOn.`);
        visiting.add(id);
        for (const d of byId.get(id)!.dependsOn) acyclic(d);
        visiting.delete(id);
      };
      for (const r of requests) acyclic(r.id);
      const results = new Map<string, Promise<GraphResult>>();
      const run = (r: BatchRequest): Promise<GraphResult> => {
        let p = results.get(r.id);
        if (p) return p;
        p = (async () => {
          const deps = await Promise.all(r.dependsOn.map((d) => run(byId.get(d)!)));
          if (deps.some((d) => d.status >= 400)) {
            return json(424, { error: { code: 'FailedDependency', message: 'A request this one depends on failed.' } });
          }
          const url = new URL(r.url.startsWith('/') ? r.url : `/${r.url}`, 'https://batch.invalid');
          if (/^\/\$batch\/?$/.test(url.pathname)) return json(400, { error: { code: 'BadRequest', message: 'A batch cannot contain another batch.' } });
          return ctx.emu.dispatchGraph({
            method: r.method,
            path: url.pathname,
            query: url.searchParams,
            headers: { ...r.headers, authorization: ctx.headers.authorization ?? '' },
            body: async () => bodyBuffer(r),
            batchOf: ctx.record.seq,
          });
        })();
        results.set(r.id, p);
        return p;
      };
      const responses = await Promise.all(requests.map(async (r) => responseOf(r.id, await run(r))));
      return json(200, { responses });
    },
  },
];
