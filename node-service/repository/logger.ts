/**
 * The slice of a pino logger the repository uses. A pino `Logger` satisfies it; the default
 * discards everything. Never log keys or passwords.
 */
export interface RepositoryLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): RepositoryLogger;
}

const noop = (): void => undefined;

export const silentLogger: RepositoryLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
