import type { Logger } from 'pino';
import type { BootConfig } from '../electron/server/boot-config.js';
import type { Terminal } from './terminal.js';

export interface OutputStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** What `vplus server start` needs of the server's composition root. */
export interface RunningServerHandle {
  url: string;
  port: number;
  fingerprint: string;
  dataDir: string;
  close(): Promise<void>;
}
export interface ServerModule {
  startServer(config: BootConfig, options?: { logger?: Logger }): Promise<RunningServerHandle>;
}

/**
 * Everything the commands touch outside themselves. main.ts builds it from the
 * process; tests build it from fakes. Commands read the environment from here,
 * never from process.env.
 */
export interface CliContext {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly homedir: string;
  /** The user's terminal for questions, or null when there is none. */
  openTerminal(): Terminal | null;
  /** Loaded on demand: client commands must not pay for loading the server. */
  loadServer(): Promise<ServerModule>;
  /** Calls handler on SIGINT/SIGTERM; returns a function that unsubscribes. */
  onShutdownSignal(handler: (signal: NodeJS.Signals) => void): () => void;
  /** Ends the process now (a second Ctrl-C while the server is stopping). */
  forceExit(code: number): void;
}
