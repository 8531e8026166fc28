/**
 * Errors the CLI expects. Each carries the exit code of CLI.md (1 the operation
 * failed, 2 usage error) and a message that is one sentence a person can act on;
 * the entry point prints it to stderr and exits with the code.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The invocation was wrong (bad flag value, missing input): exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
