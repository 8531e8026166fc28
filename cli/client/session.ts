import { formatFingerprint, normalizeFingerprint } from '../../common/fingerprint.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { ApiClient, NOT_LOGGED_IN } from './api-client.js';
import { cliConfigPath, readCliConfig, type CliConfig } from './cli-config.js';

export const DEFAULT_PORT = 8181;

/** Where the CLI talks to, after applying VPLUS_SERVER / VPLUS_FINGERPRINT / VPLUS_TOKEN. */
export interface Session {
  server: string | undefined;
  /** Canonical lower-case hex. */
  fingerprint: string | undefined;
  token: string | undefined;
  user: string | undefined;
}

/**
 * The environment overrides the stored config, field by field. The stored pin
 * and token belong to the stored server only: they are never sent to a
 * different server named by VPLUS_SERVER.
 */
export function resolveSession(stored: CliConfig, env: Readonly<Record<string, string | undefined>>): Session {
  const server = env.VPLUS_SERVER ? normalizeServerUrl(env.VPLUS_SERVER, 'VPLUS_SERVER') : stored.server;
  const sameServer = stored.server !== undefined && server === stored.server;
  const fingerprint = env.VPLUS_FINGERPRINT
    ? parseFingerprint(env.VPLUS_FINGERPRINT, 'VPLUS_FINGERPRINT')
    : sameServer && stored.fingerprint
      ? parseFingerprint(stored.fingerprint, 'the stored fingerprint')
      : undefined;
  const token = env.VPLUS_TOKEN || (sameServer ? stored.token : undefined);
  const user = sameServer ? stored.user : undefined;
  return { server, fingerprint, token, user };
}

/**
 * "host", "host:port" or "https://host[:port]" → "https://host:port". Without
 * a scheme the product's default port 8181 applies; the server speaks HTTPS only.
 */
export function normalizeServerUrl(input: string, what = '--server'): string {
  const text = input.trim();
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `https://${text}`);
  } catch {
    throw new UsageError(`${what} "${input}" is not a URL; give it as https://HOST:${DEFAULT_PORT}`);
  }
  if (url.protocol !== 'https:') {
    throw new UsageError(`${what} must be an https:// URL (the vPlus server speaks HTTPS only), not "${input}"`);
  }
  if (url.username || url.password) {
    throw new UsageError(`${what} must not contain a user name or password; use --user and --password-stdin`);
  }
  if (!hasScheme && url.port === '') url.port = String(DEFAULT_PORT);
  return url.origin;
}

/** Any accepted spelling (colons or not, any case, "sha256:" prefix) → canonical hex. */
export function parseFingerprint(input: string, what = '--fingerprint'): string {
  try {
    return normalizeFingerprint(input);
  } catch (err) {
    throw new UsageError(`${what}: ${errorMessage(err)}`);
  }
}

export { formatFingerprint };

/** Host and port to open a TLS connection to, from a normalized server URL. */
export function serverEndpoint(server: string): { host: string; port: number } {
  const url = new URL(server);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 443) };
}

export async function loadSession(ctx: CliContext): Promise<{ file: string; stored: CliConfig; session: Session }> {
  const file = cliConfigPath(ctx.env, ctx.homedir);
  const stored = await readCliConfig(file);
  return { file, stored, session: resolveSession(stored, ctx.env) };
}

/**
 * A client for the logged-in session. Fails with the "run vplus login"
 * sentence when there is no server, no pin or no token to use.
 */
export async function connect(ctx: CliContext): Promise<{ client: ApiClient; session: Session }> {
  const { session } = await loadSession(ctx);
  if (!session.server) {
    throw new CliError('no server configured; run vplus login --server https://HOST:8181 --user NAME --password-stdin');
  }
  if (!session.fingerprint) {
    throw new CliError(
      `no pinned certificate fingerprint for ${session.server}; run vplus login or set VPLUS_FINGERPRINT`,
    );
  }
  if (!session.token) throw new CliError(NOT_LOGGED_IN);
  const client = new ApiClient({ server: session.server, fingerprint: session.fingerprint, token: session.token });
  return { client, session };
}

/** Runs fn with a client and always releases its connection. */
export async function withClient<T>(
  ctx: CliContext,
  fn: (client: ApiClient, session: Session) => Promise<T>,
): Promise<T> {
  const { client, session } = await connect(ctx);
  try {
    return await fn(client, session);
  } finally {
    client.close();
  }
}
