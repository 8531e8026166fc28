import type { CliContext } from './context.js';

/**
 * stdout carries results (a table, a sentence, or with --json only JSON);
 * stderr carries notes and errors.
 */
export class Output {
  constructor(private readonly ctx: Pick<CliContext, 'stdout' | 'stderr'>) {}

  line(text = ''): void {
    this.ctx.stdout.write(`${text}\n`);
  }

  /** Pretty JSON and nothing else: an array for lists, an object otherwise. */
  json(value: unknown): void {
    this.ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  note(text: string): void {
    this.ctx.stderr.write(`${text}\n`);
  }
}

/** `Key:  value` lines with the values aligned. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v}`).join('\n');
}
