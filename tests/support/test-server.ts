import fs from 'node:fs';
import pino from 'pino';
import { parseBootConfig, type BootConfigInput } from '../../electron/server/boot-config.js';
import type { TaskDetails } from '../../common/api/tasks.js';
import { isFinalState } from '../../common/api/tasks.js';
import { startServer, type RunningServer, type StartOptions } from '../../electron/server/server.js';
import { ApiClient } from './api-client.js';
import { requireMariaDb } from './requirements.js';

export interface TestServer {
  server: RunningServer;
  api: ApiClient;
  dataDir: string;
  stop(): Promise<void>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
}

import { makeTempDir } from './temp-dirs.js';

export { makeTempDir };

/** A real server on a random port with its own managed MariaDB (or the given remote URL). */
export async function startTestServer(input: Partial<BootConfigInput> = {}, options: Pick<StartOptions, 'clock' | 'logger' | 'historyPrune'> = {}): Promise<TestServer> {
  if (!input.dbUrl) requireMariaDb();
  const dataDir = input.dataDir ?? makeTempDir('server');
  const logger = pino({ level: process.env.VPLUS_TEST_LOG ?? 'silent' });
  // No daily history prune: it would start at the next half hour and prune what a test wrote; tests prune when they ask.
  const server = await startServer(parseBootConfig({ port: 0, bind: '127.0.0.1', ...input, dataDir }), { logger, ...options, historyPrune: { daily: false, ...options.historyPrune } });
  const api = new ApiClient(server.url, server.fingerprint);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await server.close();
  };
  return {
    server,
    api,
    dataDir,
    stop,
    async destroy() {
      await stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const ADMIN = { username: 'admin', password: 'admin-password-1' };

/** Runs first-run setup and returns a bearer token for the admin. */
export async function setupAdmin(api: ApiClient): Promise<string> {
  const res = await api.request('POST', '/api/setup', { ...ADMIN, setupCode: await readSetupCode(api) });
  if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${res.text}`);
  return api.login(ADMIN.username, ADMIN.password);
}

/** The first-run setup code, as an admin on the server's machine reads it: from the file /api/health names. */
export async function readSetupCode(api: ApiClient): Promise<string> {
  const health = await api.request<{ setupCodeFile: string | null }>('GET', '/api/health');
  if (!health.body.setupCodeFile) throw new Error('the server asks for no setup code (setup is done)');
  return fs.readFileSync(health.body.setupCodeFile, 'utf8').trim();
}

export async function createUser(api: ApiClient, adminToken: string, username: string, role: string, password = `${username}-password-1`): Promise<string> {
  const res = await api.request('POST', '/api/users', { username, password, role }, { token: adminToken });
  if (res.status !== 201) throw new Error(`creating ${username} failed: ${res.status} ${res.text}`);
  return api.login(username, password);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Waits until a task has ended (any final state) and returns it with its log. */
export async function taskEnded(api: ApiClient, token: string, id: number, timeoutMs = 120_000): Promise<TaskDetails> {
  return waitFor(
    `task ${id} to end`,
    async () => {
      const d = (await api.request<TaskDetails>('GET', `/api/tasks/${id}`, undefined, { token })).body;
      return isFinalState(d.state) ? d : undefined;
    },
    timeoutMs,
  );
}
