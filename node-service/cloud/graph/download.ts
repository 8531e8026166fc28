import { CloudError } from './cloud-errors.js';
import type { GraphClient, GraphRequest } from './graph-client.js';
import { QuickXorHash } from './quick-xor-hash.js';

export interface DownloadResult {
  bytes: number;
  quickXorHash: string;
}

const MAX_RESUMES = 5;

/**
 * Streams a drive item's content to `sink`, each byte once and in order. `/content` answers
 * 302 to a pre-authenticated URL on another host, fetched without the bearer token; a
 * connection cut mid-file resumes with `Range: bytes=<received>-` (a fresh URL when the old
 * one expired). The QuickXorHash is computed on the way for checking against Graph's.
 */
export async function downloadItem(
  graph: GraphClient,
  contentPath: string,
  req: Omit<GraphRequest, 'method' | 'body' | 'accept' | 'auth'>,
  sink: (chunk: Buffer) => Promise<void> | void,
  /** The item's @microsoft.graph.downloadUrl when the listing gave one (it may have expired: then /content is asked). */
  knownUrl?: string,
): Promise<DownloadResult> {
  const hash = new QuickXorHash();
  let received = 0;
  let url: string | null = knownUrl ?? null;
  let lastError: unknown = null;
  for (let attempt = 0; attempt <= MAX_RESUMES; attempt++) {
    url ??= await downloadUrl(graph, contentPath, req);
    if (url === null) return { bytes: 0, quickXorHash: hash.digestBase64() };
    try {
      await graph.send(url, { ...req, auth: false, headers: received > 0 ? { range: `bytes=${received}-` } : {} }, async (res) => {
        let skip = res.status === 206 ? 0 : received; // a 200 to a range request starts again from byte 0
        if (!res.body) return;
        for await (const part of res.body) {
          let chunk: Buffer = Buffer.from(part as Uint8Array);
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          hash.update(chunk);
          received += chunk.length;
          await sink(chunk);
        }
      });
      return { bytes: received, quickXorHash: hash.digestBase64() };
    } catch (err) {
      if (req.signal?.aborted) throw err;
      lastError = err;
      // An expired or refused pre-authenticated URL: ask Graph for a new one.
      if (err instanceof CloudError && err.status !== undefined && [401, 403, 404, 410].includes(err.status)) url = null;
      else if (err instanceof CloudError && err.status !== undefined) throw err;
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new CloudError('M365_REQUEST_FAILED', `${req.what}: the download kept failing after ${received} bytes (${reason})`);
}

/** The pre-authenticated URL of an item's content; null for an item Graph says has none (204). */
async function downloadUrl(graph: GraphClient, contentPath: string, req: Omit<GraphRequest, 'method' | 'body' | 'accept' | 'auth'>): Promise<string | null> {
  return graph.send(contentPath, { ...req, accept: [302] }, async (res) => {
    await res.body?.cancel();
    if (res.status === 302) {
      const location = res.headers.get('location');
      if (!location) throw new CloudError('M365_REQUEST_FAILED', `${req.what}: Graph redirected to no location`);
      return location;
    }
    if (res.status === 204) return null;
    throw new CloudError('M365_REQUEST_FAILED', `${req.what}: unexpected answer ${res.status} to /content`);
  });
}
