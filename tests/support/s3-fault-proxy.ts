/**
 * A plain-HTTP proxy in front of a real S3 gateway (tests/support/ceph-rgw.ts) that can answer
 * chosen requests itself with an S3 error (503 SlowDown, 500 InternalError…) or stall them,
 * and records every request: for retry, backoff and timeout tests. Everything else reaches the
 * gateway unchanged (the Host header too, so SigV4 signatures still match).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  /** The status the client got; `injected` when the proxy answered itself. */
  status: number;
  injected: boolean;
  headers: http.IncomingHttpHeaders;
}

export interface Fault {
  /** How many matching requests get the fault (then they pass again). */
  times: number;
  /** Which requests; default every one. */
  match?: (method: string, url: string) => boolean;
  /** Answer with this S3 error… */
  status?: number;
  code?: string;
  /** …or hold the request this long without answering (ms), then drop the connection. */
  stallMs?: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT, to use as the S3 endpoint. */
  endpoint: string;
  requests: ProxiedRequest[];
  inject(fault: Fault): void;
  /** Forgets pending faults and recorded requests (between tests). */
  reset(): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  if (upstream.protocol !== 'http:') throw new Error(`the fault proxy forwards to http:// gateways only, not ${target}`);
  const faults: Fault[] = [];
  const requests: ProxiedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    req.on('error', () => res.destroy());
    const fault = faults.find((f) => f.times > 0 && (f.match?.(method, url) ?? true));
    if (fault) {
      fault.times--;
      if (fault.stallMs !== undefined) {
        req.resume();
        requests.push({ method, url, status: 0, injected: true, headers: req.headers });
        setTimeout(() => res.destroy(), fault.stallMs).unref();
        return;
      }
      const status = fault.status ?? 503;
      const code = fault.code ?? 'SlowDown';
      requests.push({ method, url, status, injected: true, headers: req.headers });
      // Read the body first: answering mid-upload makes some clients see a reset instead.
      req.resume();
      req.once('end', () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the test proxy</Message><RequestId>proxy</RequestId></Error>`;
        res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method, path: url, headers: req.headers, agent },
      (up) => {
        requests.push({ method, url, status: up.statusCode ?? 0, injected: false, headers: req.headers });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.on('error', () => res.destroy());
        up.pipe(res);
      },
    );
    // A store answering before the body is in (411, 403) ends the exchange early: each side
    // just closes the other, as a real proxy would.
    out.on('error', () => res.destroy());
    req.on('error', () => out.destroy());
    res.on('error', () => out.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    inject: (fault) => faults.push({ ...fault }),
    reset: () => {
      faults.length = 0;
      requests.length = 0;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
