import path from 'node:path';
import { vplus, vplusOk } from './processes.js';
import { ADMIN, type TestServer } from './test-server.js';

export interface CliSession {
  /** The environment that points `vplus` at this session's own login (VPLUS_CONFIG in `dir`). */
  env: Record<string, string>;
  /** Runs `vplus ARGS…` to its end, whatever its exit code, with `stdin` piped in. */
  run(args: string[], stdin?: string): Promise<{ code: number | null; output: string }>;
  /** Runs `vplus ARGS…` and returns its output; rejects unless it exits 0. */
  ok(args: string[], stdin?: string): Promise<string>;
}

/**
 * The built `vplus`, logged in as the admin by `vplus login` itself, with its session file in
 * `dir` (no session of the machine's user is read or touched).
 */
export async function loginCli(t: TestServer, dir: string): Promise<CliSession> {
  const env = { VPLUS_CONFIG: path.join(dir, 'cli.json'), VPLUS_SERVER: '', VPLUS_FINGERPRINT: '', VPLUS_TOKEN: '' };
  await vplusOk(['login', '--server', t.server.url, '--user', ADMIN.username, '--password-stdin', '--fingerprint', t.server.fingerprint], env, `${ADMIN.password}\n`);
  return {
    env,
    async run(args, stdin) {
      const p = vplus(args, env);
      p.child.stdin!.end(stdin);
      const code = await p.exited;
      return { code, output: p.output() };
    },
    ok: (args, stdin) => vplusOk(args, env, stdin),
  };
}
