import { GraphClient, type GraphClientOptions } from './graph-client.js';
import { HttpTransport } from './http-transport.js';
import type { TenantSettings } from './tenant-settings.js';
import { TokenProvider } from './token-provider.js';

/** Everything that talks to one tenant, built once per task and closed at its end. */
export class TenantSession {
  readonly transport: HttpTransport;
  readonly tokens: TokenProvider;
  readonly graph: GraphClient;

  constructor(settings: TenantSettings, options: GraphClientOptions = {}) {
    this.transport = new HttpTransport({ caPem: settings.caPem ?? null });
    this.tokens = new TokenProvider(settings, this.transport);
    this.graph = new GraphClient(settings, this.transport, this.tokens, options);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
