/**
 * Client-side helpers for tests: fetch (undici) that trusts the emulator's CA and refuses any
 * host but loopback, an MSAL network client built on it (MSAL's own uses global fetch, which
 * cannot take a CA), and the MSAL configuration that keeps every call on the emulator (no
 * instance discovery at login.microsoftonline.com). The cloud agent needs the same three
 * things with the tenant's CA option; see README.md.
 */
import type { Configuration, INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { Agent, fetch as undiciFetch, type RequestInit, type Response } from 'undici';
import type { AppRegistration, Tenant } from './directory.model.js';
import type { GraphEmulator } from './server.js';

export type FetchFn = (url: string, init?: RequestInit) => Promise<Response>;
/** A fetch bound to its own undici Agent; close the agent when done. */
export type TrustingFetch = FetchFn & { agent: Agent };

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** fetch trusting caPem only; any URL off this machine throws before a connection is made. */
export function trustingFetch(caPem: string, opts: { connections?: number } = {}): TrustingFetch {
  const agent = new Agent({ connect: { ca: caPem }, connections: opts.connections ?? 16 });
  const f = (url: string, init: RequestInit = {}): Promise<Response> => {
    const host = new URL(url).hostname;
    if (!LOOPBACK.has(host)) return Promise.reject(new Error(`test traffic must stay on this machine: refused ${url}`));
    return undiciFetch(url, { ...init, dispatcher: agent });
  };
  return Object.assign(f, { agent });
}

/** MSAL's INetworkModule over a trusting fetch; remembers every URL MSAL asked for. */
export class EmulatorNetworkClient implements INetworkModule {
  readonly requested: string[] = [];
  constructor(private readonly fetchFn: FetchFn) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'GET', options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'POST', options);
  }

  private async send<T>(url: string, method: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    this.requested.push(`${method} ${url}`);
    const res = await this.fetchFn(url, {
      method,
      headers: options?.headers ?? {},
      ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
      ...(timeout !== undefined ? { signal: AbortSignal.timeout(timeout) } : {}),
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { headers, body: (await res.json()) as T, status: res.status };
  }
}

export type AppCredential = { clientSecret: string } | { clientCertificate: { thumbprintSha256: string; privateKey: string; x5c?: string } };

/**
 * ConfidentialClientApplication configuration for a tenant of the emulator. knownAuthorities
 * makes MSAL trust the authority host without asking login.microsoftonline.com's instance
 * discovery; the OpenID configuration is then read from the emulator itself.
 */
export function msalConfig(emu: GraphEmulator, tenant: Tenant, app: AppRegistration, credential: AppCredential, networkClient: INetworkModule): Configuration {
  return {
    auth: {
      clientId: app.clientId,
      authority: `${emu.authorityHost}/${tenant.id}`,
      knownAuthorities: [new URL(emu.authorityHost).host],
      ...credential,
    },
    system: { networkClient },
  };
}
