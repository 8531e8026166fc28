import type { Command } from 'commander';
import { fetchServerFingerprint } from '../../common/net/pinned-agent.js';
import { ApiClient, ApiRequestError, describeRequestFailure } from '../client/api-client.js';
import { writeCliConfig } from '../client/cli-config.js';
import {
  formatFingerprint,
  loadSession,
  normalizeServerUrl,
  parseFingerprint,
  serverEndpoint,
} from '../client/session.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError, errorMessage } from '../errors.js';
import { Output } from '../output.js';
import { readSecret } from '../secrets.js';

interface LoginOptions {
  server?: string;
  user: string;
  passwordStdin: true;
  fingerprint?: string;
}

export function registerLoginCommands(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('log in to a vPlus server and remember the session in ~/.config/vplus/cli.json')
    .option('--server <url>', 'server URL, e.g. https://backup.example:8181 (env: VPLUS_SERVER)')
    .requiredOption('--user <name>', 'user name')
    .requiredOption('--password-stdin', 'read the password from stdin (asked without echo on a terminal)')
    .option('--fingerprint <sha256>', "the server certificate's SHA-256, as `vplus server start` prints it (env: VPLUS_FINGERPRINT)")
    .action((options: LoginOptions) => login(ctx, options));

  program
    .command('logout')
    .description('end the session on the server and forget its token')
    .action(() => logout(ctx));
}

async function login(ctx: CliContext, options: LoginOptions): Promise<void> {
  const out = new Output(ctx);
  const serverInput = options.server ?? ctx.env.VPLUS_SERVER;
  if (!serverInput) throw new UsageError('give the server with --server https://HOST:8181');
  const server = normalizeServerUrl(serverInput);
  const { file, stored } = await loadSession(ctx);

  const given = options.fingerprint
    ? parseFingerprint(options.fingerprint, '--fingerprint')
    : ctx.env.VPLUS_FINGERPRINT
      ? parseFingerprint(ctx.env.VPLUS_FINGERPRINT, 'VPLUS_FINGERPRINT')
      : undefined;
  const fingerprint = given ?? (await pinFingerprint(ctx, server, stored));
  const password = await readSecret(ctx, { prompt: `Password for ${options.user} on ${server}: ` });

  const client = new ApiClient({ server, fingerprint });
  let result;
  try {
    result = await client.login({ username: options.user, password, issueToken: true });
  } finally {
    client.close();
  }
  if (!result.token) throw new CliError(`${server} did not issue a token; is it a vPlus server of the same version?`);

  await writeCliConfig(file, {
    ...stored,
    server,
    fingerprint: formatFingerprint(fingerprint),
    token: result.token,
    user: result.user.username,
    expiresAt: result.expiresAt,
  });
  out.line(`Logged in to ${server} as ${result.user.username} (${result.user.role}).`);
}

/**
 * Without a given pin: the one already stored for this server, else the
 * server's own after the user confirmed it on a terminal (trust on first use,
 * as ssh does). Without a terminal nobody can confirm: usage error.
 */
async function pinFingerprint(
  ctx: CliContext,
  server: string,
  stored: { server?: string | undefined; fingerprint?: string | undefined },
): Promise<string> {
  if (stored.server === server && stored.fingerprint) return parseFingerprint(stored.fingerprint, 'the stored fingerprint');

  const { host, port } = serverEndpoint(server);
  let seen: string;
  try {
    seen = await fetchServerFingerprint(host, port);
  } catch (err) {
    throw new CliError(describeRequestFailure(err, server));
  }
  const pretty = formatFingerprint(seen);
  const terminal = ctx.openTerminal();
  if (!terminal) {
    throw new UsageError(
      `cannot ask whether to trust ${server} without a terminal; check that its certificate's SHA-256 is ${pretty} and pass it with --fingerprint`,
    );
  }
  try {
    terminal.say(`The server at ${server} presents a certificate with the SHA-256 fingerprint`);
    terminal.say(`  ${pretty}`);
    terminal.say('Compare it with the one `vplus server start` printed on the server.');
    const answer = await terminal.question('Trust this certificate? [y/N] ');
    if (!/^y(es)?$/i.test(answer.trim())) {
      throw new CliError(`the certificate of ${server} was not trusted; nothing was saved`);
    }
  } finally {
    terminal.close();
  }
  return seen;
}

async function logout(ctx: CliContext): Promise<void> {
  const out = new Output(ctx);
  const { file, stored, session } = await loadSession(ctx);
  if (!session.server || !session.token) {
    out.line('Not logged in.');
    return;
  }

  let revokeError: unknown;
  if (session.fingerprint) {
    const client = new ApiClient({ server: session.server, fingerprint: session.fingerprint, token: session.token });
    try {
      await client.logout();
    } catch (err) {
      // 401: the session had already ended; that is what we wanted.
      if (!(err instanceof ApiRequestError && err.status === 401)) revokeError = err;
    } finally {
      client.close();
    }
  }

  // Forget the stored session even if the server could not be told.
  if (stored.server === session.server && stored.token) {
    const { token: _token, user: _user, expiresAt: _expiresAt, ...rest } = stored;
    await writeCliConfig(file, rest);
  }
  if (revokeError !== undefined) {
    throw new CliError(`forgot the local session, but could not end it on the server: ${errorMessage(revokeError)}`);
  }
  out.line(`Logged out of ${session.server}.`);
}
