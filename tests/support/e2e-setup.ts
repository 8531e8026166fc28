import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { BootConfigInput } from '../../electron/server/boot-config.js';
import { defaultHandlers } from '../../node-service/agent/node-service.js';
import type { ApiResponse } from './api-client.js';
import { launchChromium, requireBuiltUi, signIn } from './browser.js';
import { ROOT } from './processes.js';
import { Teardown, undoOnFailure } from './teardown.js';
import { enrollTestNode } from './test-node.js';
import { ADMIN, setupAdmin, startTestServer, type TestServer } from './test-server.js';

/** Destinations and hypervisors are added the same way as in the KVM integration tests. */
export { addDestination, addHypervisor } from './kvm-setup.js';

/** Where the e2e tests leave their screenshots. */
export const SHOTS = path.join(ROOT, 'test-results');

export interface E2eOptions {
  /** Boot config of the server, e.g. a short node heartbeat. */
  server?: Partial<BootConfigInput>;
  /** The browser page's options, e.g. a viewport and a locale. */
  page?: Parameters<Browser['newPage']>[0];
}

/** A real server (with its own MariaDB) and a Chromium page that trusts its certificate. */
export interface E2e {
  t: TestServer;
  browser: Browser;
  page: Page;
  /** Undoes what the setup started, last first; the server's data goes too. */
  close(): Promise<void>;
}

/** The same, past first-run setup, with the page signed in as the admin on the dashboard. */
export interface SignedInE2e extends E2e {
  /** The admin's bearer token. */
  admin: string;
  /** A request as the admin. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
}

async function start(options: E2eOptions, teardown: Teardown): Promise<Omit<E2e, 'close'>> {
  requireBuiltUi(ROOT);
  fs.mkdirSync(SHOTS, { recursive: true });
  const t = await startTestServer(options.server);
  teardown.add(() => t.destroy());
  const browser = await launchChromium(t.server.url);
  teardown.add(() => browser.close());
  const page = await browser.newPage(options.page);
  return { t, browser, page };
}

/** A fresh server, first-run setup not done, and a blank page: for tests of the setup page itself. */
export async function startE2e(options: E2eOptions = {}): Promise<E2e> {
  const teardown = new Teardown();
  const started = await undoOnFailure(teardown, () => start(options, teardown));
  return { ...started, close: () => teardown.run() };
}

/**
 * A server with its admin, optionally a node enrolled in this process (with the real task
 * handlers), and the page signed in.
 */
export async function startSignedInE2e(options: E2eOptions & { node?: string } = {}): Promise<SignedInE2e> {
  const teardown = new Teardown();
  const started = await undoOnFailure(teardown, async () => {
    const { t, browser, page } = await start(options, teardown);
    const admin = await setupAdmin(t.api);
    if (options.node !== undefined) {
      const node = await enrollTestNode(t.api, admin, { name: options.node, handlers: (mount) => defaultHandlers({ name: options.node! }, {}, mount), serverUrl: t.server.url, fingerprint: t.server.fingerprint });
      teardown.add(() => node.stop());
    }
    await page.goto(t.server.url);
    await signIn(page, ADMIN.username, ADMIN.password);
    return { t, browser, page, admin };
  });
  return {
    ...started,
    api: <T>(method: string, p: string, body?: unknown) => started.t.api.request<T>(method, p, body, { token: started.admin }),
    close: () => teardown.run(),
  };
}
