import type { TaskProgress, TaskState } from '../../../common/api/tasks.js';

export interface RawProgress {
  bytesDone: number;
  bytesTotal: number | null;
  rate: number | null;
  message: string | null;
}

/** Percent and ETA derived from bytes and rate, the same way everywhere. */
export function progressView(p: RawProgress, state: TaskState): TaskProgress {
  const done = state === 'FINISHED' || state === 'FINISHED_WITH_WARNINGS';
  const percent = done ? 100 : p.bytesTotal && p.bytesTotal > 0 ? Math.min(100, (p.bytesDone / p.bytesTotal) * 100) : null;
  const eta =
    state === 'RUNNING' && p.bytesTotal !== null && p.rate && p.rate > 0 ? Math.max(0, (p.bytesTotal - p.bytesDone) / p.rate) : null;
  return {
    bytesDone: p.bytesDone,
    bytesTotal: p.bytesTotal,
    percent: percent === null ? null : Math.round(percent * 10) / 10,
    rate: state === 'RUNNING' ? p.rate : null,
    etaSeconds: eta === null ? null : Math.round(eta),
    message: p.message,
  };
}

/**
 * Smooths a byte counter into a rate (exponentially weighted, ~5 s memory)
 * so the ETA does not jump with every sample.
 */
export class RateEstimator {
  private lastAt: number | undefined;
  private lastBytes = 0;
  private rate: number | null = null;

  constructor(private readonly halfLifeMs = 3000) {}

  sample(bytesDone: number, nowMs: number): number | null {
    if (this.lastAt === undefined || bytesDone < this.lastBytes) {
      this.lastAt = nowMs;
      this.lastBytes = bytesDone;
      return this.rate;
    }
    const dt = nowMs - this.lastAt;
    if (dt < 100) return this.rate;
    const instant = ((bytesDone - this.lastBytes) / dt) * 1000;
    const alpha = 1 - Math.pow(0.5, dt / this.halfLifeMs);
    this.rate = this.rate === null ? instant : this.rate + alpha * (instant - this.rate);
    this.lastAt = nowMs;
    this.lastBytes = bytesDone;
    return this.rate;
  }
}
