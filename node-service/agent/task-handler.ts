import type { Logger } from 'pino';

/** What a task handler gets: its parameters, a place to report, and a signal for cancel. */
export interface TaskRunContext {
  taskId: number;
  params: Record<string, unknown>;
  stagingDir: string;
  /** Aborted on a graceful cancel; handlers stop at the next safe point. */
  signal: AbortSignal;
  progress(bytesDone: number, bytesTotal: number | null, message?: string): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  logger: Logger;
}

export interface TaskRunResult {
  warnings?: string[];
  result?: Record<string, unknown>;
  /**
   * Ends the task FAILED with this message while still delivering `result` and `warnings`
   * (a verify that found damage: the failure, plus the report of what is damaged). A thrown
   * error carries no result.
   */
  failed?: string;
}

export interface TaskHandler {
  type: string;
  run(ctx: TaskRunContext): Promise<TaskRunResult | void>;
}

/** A failure the user can act on; its message is shown as the task's error. */
export class TaskError extends Error {
  constructor(
    message: string,
    readonly code = 'TASK_FAILED',
  ) {
    super(message);
  }
}
