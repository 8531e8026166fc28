import { rootCertificates } from 'node:tls';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { Agent, fetch, type RequestInit, type Response } from 'undici';

/**
 * One HTTP transport per tenant: undici with the system's CAs plus the tenant's own (a
 * TLS-inspecting proxy's). Verification is never switched off. MSAL, Graph, download and
 * upload URLs all go through it.
 */
export class HttpTransport {
  private readonly agent: Agent;

  constructor(opts: { caPem?: string | null; connections?: number } = {}) {
    const ca = opts.caPem ? [...rootCertificates, opts.caPem] : undefined;
    this.agent = new Agent({ connections: opts.connections ?? 32, ...(ca ? { connect: { ca } } : {}) });
  }

  fetch(url: string, init: RequestInit = {}): Promise<Response> {
    return fetch(url, { ...init, dispatcher: this.agent });
  }

  /** MSAL's network module over this transport (MSAL's own uses the global fetch, which takes no CA). */
  msalNetworkModule(): INetworkModule {
    const send = async <T>(url: string, method: 'GET' | 'POST', options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> => {
      const res = await this.fetch(url, {
        method,
        headers: options?.headers ?? {},
        ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
        signal: AbortSignal.timeout(timeout ?? 30_000),
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      const text = await res.text();
      return { headers, status: res.status, body: (text ? JSON.parse(text) : {}) as T };
    };
    return {
      sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions, timeout?: number) => send<T>(url, 'GET', options, timeout),
      sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>(url, 'POST', options),
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
