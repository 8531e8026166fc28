import type { CliContext } from './context.js';
import { UsageError } from './errors.js';

const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads a secret for --password-stdin. Piped in: everything up to EOF, minus
 * one trailing newline (so `echo pw |` works). On a terminal: asked without
 * echo, and typed twice when `confirm` is set, instead of echoing it while
 * waiting for Ctrl-D.
 */
export async function readSecret(
  ctx: CliContext,
  options: { prompt: string; confirm?: boolean; what?: string },
): Promise<string> {
  const what = options.what ?? 'password';
  if (ctx.stdin.isTTY) {
    const terminal = ctx.openTerminal();
    if (terminal) {
      try {
        const first = await terminal.secret(options.prompt);
        if (options.confirm) {
          const second = await terminal.secret(`Repeat the ${what}: `);
          if (first !== second) throw new UsageError(`the two ${what}s do not match`);
        }
        if (first === '') throw new UsageError(`no ${what} was typed`);
        return first;
      } finally {
        terminal.close();
      }
    }
  }
  const text = await readAll(ctx.stdin, what);
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new UsageError(`no ${what} on stdin; pipe it in, e.g. printf '%s' "$PASSWORD" | vplus …`);
  return secret;
}

async function readAll(stream: NodeJS.ReadableStream, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    size += buf.length;
    if (size > MAX_SECRET_BYTES) throw new UsageError(`the ${what} on stdin is longer than ${MAX_SECRET_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
