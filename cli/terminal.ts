import fs from 'node:fs';
import readline from 'node:readline';
import tty from 'node:tty';
import type { Writable } from 'node:stream';
import { CliError } from './errors.js';

/**
 * The user's terminal, for the few questions the CLI asks (trust a certificate,
 * type a password). Questions go to the terminal, never to stdout, so `--json`
 * output stays clean.
 */
export interface Terminal {
  /** Writes a line of explanation to the terminal. */
  say(text: string): void;
  /** Asks a question and returns the line typed, echoed. */
  question(prompt: string): Promise<string>;
  /** Asks for a secret without echoing it. */
  secret(prompt: string): Promise<string>;
  close(): void;
}

/**
 * stdin when it is a terminal; otherwise the controlling terminal (/dev/tty),
 * as ssh does for its host-key question, so `printf … | vplus login …` can still
 * ask. Null when there is no terminal at all (cron, CI, a service).
 */
export function openTerminal(stdin: NodeJS.ReadStream, stderr: NodeJS.WriteStream): Terminal | null {
  if (stdin.isTTY) return new TtyTerminal(stdin, stderr, () => undefined);
  let fd: number;
  try {
    fd = fs.openSync('/dev/tty', 'r+');
  } catch {
    // ENXIO/ENOENT: no controlling terminal, which is exactly what null means.
    return null;
  }
  if (!tty.isatty(fd)) {
    fs.closeSync(fd);
    return null;
  }
  const input = new tty.ReadStream(fd);
  const output = new tty.WriteStream(fd);
  return new TtyTerminal(input, output, () => {
    input.destroy();
    output.destroy();
  });
}

class TtyTerminal implements Terminal {
  constructor(
    private readonly input: tty.ReadStream,
    private readonly output: Writable,
    private readonly onClose: () => void,
  ) {}

  say(text: string): void {
    this.output.write(`${text}\n`);
  }

  question(prompt: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const rl = readline.createInterface({ input: this.input, output: this.output, terminal: true });
      let answered = false;
      rl.on('SIGINT', () => {
        answered = true;
        rl.close();
        this.output.write('\n');
        reject(new CliError('cancelled'));
      });
      // Ctrl-D closes without an answer: treat it as an empty one.
      rl.on('close', () => {
        if (!answered) resolve('');
      });
      rl.question(prompt, (answer) => {
        answered = true;
        rl.close();
        resolve(answer);
      });
    });
  }

  secret(prompt: string): Promise<string> {
    return readHiddenLine(this.input, this.output, prompt);
  }

  close(): void {
    this.onClose();
  }
}

/** Reads one line in raw mode, echoing nothing. Ctrl-C cancels. */
function readHiddenLine(input: tty.ReadStream, output: Writable, prompt: string): Promise<string> {
  output.write(prompt);
  const wasRaw = input.isRaw;
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  let value = '';
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || (ch === '\u0004' && value === '')) {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new CliError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') {
          value = Array.from(value).slice(0, -1).join('');
        } else if (ch >= ' ') {
          value += ch;
        }
      }
    };
    input.on('data', onData);
  });
}
