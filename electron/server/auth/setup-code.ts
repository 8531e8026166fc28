/**
 * The one-time code that guards first-run setup. Until the first administrator exists the
 * server is reachable by anyone on the network (it listens on every address so nodes and
 * browsers elsewhere can reach it); whoever posts /api/setup first would own it. So setup
 * needs a code only someone with access to the server's machine has: it is written to the
 * data dir (mode 0600) and to the server's log, and the desktop app hands it to its own
 * window. The file goes once the administrator exists.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Crockford's base32 without look-alikes: read off a console and typed by a person. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** "K7QF-M2XA-9PZT": 12 symbols, 60 bits. */
function newCode(): string {
  const symbols = Array.from({ length: 12 }, () => ALPHABET[randomInt(ALPHABET.length)]!);
  return [symbols.slice(0, 4), symbols.slice(4, 8), symbols.slice(8)].map((g) => g.join('')).join('-');
}

/** What a person may type: any case, spaces or dashes anywhere, O for 0, I/L for 1. */
function normalise(code: string): string {
  return code
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

export class SetupCode {
  private done: boolean;

  private constructor(
    readonly file: string,
    private readonly code: string | null,
  ) {
    this.done = code === null;
  }

  /** The code of this data dir: kept across restarts until setup is done, made when missing. */
  static async ensure(dataDir: string): Promise<SetupCode> {
    const file = path.join(dataDir, 'setup-code');
    const kept = await fs.promises.readFile(file, 'utf8').catch(() => '');
    if (/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(kept.trim())) return new SetupCode(file, kept.trim());
    const code = newCode();
    const tmp = `${file}.tmp-${process.pid}`;
    await fs.promises.writeFile(tmp, `${code}\n`, { mode: 0o600 });
    await fs.promises.rename(tmp, file);
    return new SetupCode(file, code);
  }

  /** No code (setup is done). */
  static none(dataDir: string): SetupCode {
    return new SetupCode(path.join(dataDir, 'setup-code'), null);
  }

  /** The code, for the log and the desktop app's own window; null once setup is done. */
  get value(): string | null {
    return this.done ? null : this.code;
  }

  /** Still true after setup: a setup racing the first one must lose on "already exists" (409), not on the code. */
  matches(candidate: string): boolean {
    if (this.code === null) return false;
    const a = Buffer.from(normalise(candidate));
    const b = Buffer.from(normalise(this.code));
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Setup is done: the code is of no use any more. */
  async consume(): Promise<void> {
    this.done = true;
    await fs.promises.rm(this.file, { force: true });
  }
}
