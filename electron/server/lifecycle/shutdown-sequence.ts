import type { Logger } from 'pino';

export interface ShutdownStep {
  /** What the step does, as the log says it: "stop the supervised nodes". */
  name: string;
  /** The step gets this long; then the sequence goes on without it (after kill()). */
  deadlineMs: number;
  run(): Promise<void>;
  /**
   * What is left of the step when it ran out of time, killed by pid (SIGKILL);
   * returns the pids it signalled, for the log. Steps that only wait on this
   * process (closing the catalog's connections) have nothing to kill.
   */
  kill?(): number[];
}

export interface ShutdownOptions {
  logger: Logger;
  /** The whole stop gets this long; then what is left is killed, in the steps' order. */
  totalMs: number;
}

/**
 * The server's one way to stop: ordered steps, each with a deadline, and a
 * deadline for the whole. A step that fails or is late is logged and the
 * next one runs anyway; when the whole stop runs out of time, every step not
 * yet done has its processes killed, in order, with the reason logged. So a
 * stop always finishes, however its parts misbehave.
 *
 * Before the first step runs, `beforeSteps` hooks (synchronous) run: that is
 * where restarts are switched off, so nothing the stop ends comes back.
 */
export class ShutdownSequence {
  private readonly steps: ShutdownStep[] = [];
  private readonly beforeSteps: (() => void)[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly options: ShutdownOptions) {}

  /** Runs synchronously when the stop begins, before any step. */
  onBegin(hook: () => void): void {
    this.beforeSteps.push(hook);
  }

  add(step: ShutdownStep): void {
    this.steps.push(step);
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  /** Runs the steps once; later calls return the same promise. */
  run(): Promise<void> {
    this.running ??= this.runOnce();
    return this.running;
  }

  private async runOnce(): Promise<void> {
    const { logger, totalMs } = this.options;
    const startedAt = Date.now();
    for (const hook of this.beforeSteps) {
      try {
        hook();
      } catch (err) {
        logger.error({ err }, 'error while starting the stop');
      }
    }
    let totalTimer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<'expired'>((resolve) => {
      totalTimer = setTimeout(() => resolve('expired'), totalMs);
    });
    try {
      for (const [i, step] of this.steps.entries()) {
        logger.info({ step: i + 1, of: this.steps.length }, `stopping: ${step.name}`);
        let stepTimer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          stepTimer = setTimeout(() => resolve('late'), step.deadlineMs);
        });
        const result = await Promise.race([
          step.run().then(
            () => 'done' as const,
            (err: unknown) => {
              logger.error({ err }, `stopping: ${step.name} failed; going on`);
              return 'failed' as const;
            },
          ),
          late,
          outOfTime,
        ]);
        clearTimeout(stepTimer);
        if (result === 'late') {
          const killed = step.kill?.() ?? [];
          logger.warn({ killed }, `stopping: ${step.name} did not finish within ${seconds(step.deadlineMs)}${killed.length ? '; killed what was left' : ''}; going on`);
        } else if (result === 'expired') {
          const rest = this.steps.slice(i);
          const killed = rest.flatMap((s) => s.kill?.() ?? []);
          logger.error(
            { killed, unfinished: rest.map((s) => s.name) },
            `the stop did not finish within ${seconds(totalMs)} (still at: ${step.name}); killed what was left, in order`,
          );
          return;
        }
      }
      logger.info({ ms: Date.now() - startedAt }, 'stopped');
    } finally {
      clearTimeout(totalTimer);
    }
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}
