import type { OutputStream } from './context.js';
import { formatBytes, formatDuration, formatRate } from './format.js';

export { formatBytes, formatDuration, formatRate };

/**
 * Progress of a long task (backup, restore, verify) as `--wait` shows it: a
 * bar redrawn in place on a terminal, plain lines now and then otherwise (logs,
 * CI). The formatting functions are pure; ProgressRenderer only decides when
 * to write what.
 */
export interface ProgressState {
  label?: string;
  doneBytes: number;
  /** Unknown while a task is still sizing its work. */
  totalBytes?: number | null;
  /** Bytes per second, or null until there are enough samples. */
  rate: number | null;
}

/** Whole percent, rounded down so 100% means done; null when the total is unknown. */
export function progressPercent(doneBytes: number, totalBytes: number | null | undefined): number | null {
  if (!totalBytes || totalBytes <= 0 || !Number.isFinite(totalBytes)) return null;
  return Math.max(0, Math.min(100, Math.floor((doneBytes / totalBytes) * 100)));
}

/** Seconds left at the given rate; 0 when done; null when it cannot be known. */
export function estimateEtaSeconds(
  doneBytes: number,
  totalBytes: number | null | undefined,
  rate: number | null,
): number | null {
  if (!totalBytes || totalBytes <= 0) return null;
  if (doneBytes >= totalBytes) return 0;
  if (rate === null || !(rate > 0)) return null;
  return (totalBytes - doneBytes) / rate;
}

/**
 * Transfer rate over a sliding window, so the ETA follows the current speed
 * rather than the average since the start (which a slow first minute skews).
 */
export class RateMeter {
  private samples: { at: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(atMs: number, doneBytes: number): void {
    const last = this.samples.at(-1);
    // Work that restarted (a retried task) starts a new measurement.
    if (last && (doneBytes < last.bytes || atMs < last.at)) this.samples = [];
    this.samples.push({ at: atMs, bytes: doneBytes });
    // Keep one sample older than the window so the window stays fully covered.
    while (this.samples.length > 2 && this.samples[1]!.at <= atMs - this.windowMs) this.samples.shift();
  }

  /** Bytes per second, or null with fewer than two samples or no time passed. */
  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at <= first.at) return null;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }
}

export function renderBar(fraction: number, width: number): string {
  const inner = Math.max(0, width - 2);
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * inner);
  return `[${'#'.repeat(filled)}${'-'.repeat(inner - filled)}]`;
}

function amounts(state: ProgressState, joiner: string): string {
  return state.totalBytes
    ? `${formatBytes(state.doneBytes)}${joiner}${formatBytes(state.totalBytes)}`
    : formatBytes(state.doneBytes);
}

function eta(state: ProgressState): string {
  const seconds = estimateEtaSeconds(state.doneBytes, state.totalBytes, state.rate);
  return seconds === null ? '--' : formatDuration(seconds);
}

/**
 * One terminal line, at most `columns` wide:
 * "backup vm1  42% [#####-------]  1.20 GiB / 3.00 GiB  45.3 MiB/s  ETA 1m 05s".
 * The bar takes what the text leaves and is dropped on a narrow terminal.
 */
export function formatProgressLine(state: ProgressState, columns = 80): string {
  const percent = progressPercent(state.doneBytes, state.totalBytes);
  const rate = state.rate === null ? '--/s' : formatRate(state.rate);
  const label = state.label ? `${state.label}  ` : '';
  const tail =
    percent === null
      ? `${amounts(state, ' / ')}  ${rate}`
      : `${amounts(state, ' / ')}  ${rate}  ETA ${eta(state)}`;
  const head = percent === null ? label : `${label}${`${percent}%`.padStart(4)} `;
  const room = columns - 1 - head.length - tail.length - 2;
  const line = percent !== null && room >= 12 ? `${head}${renderBar(percent / 100, Math.min(room, 50))}  ${tail}` : `${head}${tail}`;
  return line.length < columns ? line : line.slice(0, Math.max(0, columns - 1));
}

/** One log line: "backup vm1: 42%, 1.20 GiB of 3.00 GiB, 45.3 MiB/s, ETA 1m 05s". */
export function formatPlainProgressLine(state: ProgressState): string {
  const percent = progressPercent(state.doneBytes, state.totalBytes);
  const parts = [
    ...(percent === null ? [] : [`${percent}%`]),
    amounts(state, ' of '),
    state.rate === null ? 'rate unknown' : formatRate(state.rate),
    ...(percent === null ? [] : [`ETA ${eta(state)}`]),
  ];
  return `${state.label ? `${state.label}: ` : ''}${parts.join(', ')}`;
}

export interface ProgressRendererOptions {
  stream: OutputStream;
  /** Defaults to stream.isTTY. */
  tty?: boolean;
  label?: string;
  /** Injectable clock (ms), for tests. */
  now?: () => number;
  /** Redraw interval on a terminal. */
  ttyIntervalMs?: number;
  /** Interval between plain lines. */
  plainIntervalMs?: number;
}

export class ProgressRenderer {
  private readonly meter = new RateMeter();
  private readonly tty: boolean;
  private readonly now: () => number;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private lastLine = '';
  private state: ProgressState;
  private finished = false;
  private started = false;

  constructor(private readonly options: ProgressRendererOptions) {
    this.tty = options.tty ?? options.stream.isTTY === true;
    this.now = options.now ?? Date.now;
    this.state = { doneBytes: 0, totalBytes: null, rate: null, ...(options.label ? { label: options.label } : {}) };
  }

  /**
   * `rate` is the producer's own measure when it has one (the server smooths
   * a task's rate over every progress report, not only the ones we see);
   * null when the producer knows none; without it (undefined) the renderer
   * measures the rate from its updates.
   */
  update(doneBytes: number, totalBytes?: number | null, rate?: number | null): void {
    if (this.finished) return;
    const at = this.now();
    this.meter.add(at, doneBytes);
    this.started = true;
    this.state = {
      ...this.state,
      doneBytes,
      totalBytes: totalBytes ?? this.state.totalBytes ?? null,
      rate: rate === undefined ? this.meter.rate() : rate,
    };
    const complete = !!this.state.totalBytes && doneBytes >= this.state.totalBytes;
    const interval = this.tty ? (this.options.ttyIntervalMs ?? 100) : (this.options.plainIntervalMs ?? 5_000);
    if (at - this.lastWriteAt >= interval || (complete && !this.tty)) this.draw(at);
  }

  /** Changes the label in front of the bar (a policy run's VM count); shown from the next draw. */
  setLabel(label: string): void {
    this.state = { ...this.state, label };
  }

  /**
   * Writes a line of other output (a task's log line, a note) without
   * tearing the bar: on a terminal the bar is erased, the line written to
   * `target` (default: the progress stream, which may be another stream on
   * the same terminal), and the bar drawn again below it.
   */
  interject(text: string, target: OutputStream = this.options.stream): void {
    const barShown = this.tty && this.started && !this.finished;
    if (barShown) this.options.stream.write('\r\x1b[K');
    target.write(`${text}\n`);
    if (barShown) this.options.stream.write(`\r${this.lastLine}\x1b[K`);
  }

  /** Leaves the last state on screen (or prints it) and, if given, a final message. */
  finish(message?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.started) {
      // Nothing was ever drawn (no byte progress): no empty bar to leave behind.
      if (message) this.options.stream.write(`${message}\n`);
      return;
    }
    if (this.tty) {
      this.draw(this.now());
      this.options.stream.write('\n');
    } else if (formatPlainProgressLine(this.state) !== this.lastLine) {
      this.draw(this.now());
    }
    if (message) this.options.stream.write(`${message}\n`);
  }

  private draw(at: number): void {
    this.lastWriteAt = at;
    if (this.tty) {
      // A pty without a size reports 0 columns: use 80 then.
      const line = formatProgressLine(this.state, this.options.stream.columns || 80);
      // \r back to column 0, \x1b[K clears what a longer previous line left.
      this.options.stream.write(`\r${line}\x1b[K`);
      this.lastLine = line;
    } else {
      const line = formatPlainProgressLine(this.state);
      if (line === this.lastLine) return;
      this.options.stream.write(`${line}\n`);
      this.lastLine = line;
    }
  }
}

/**
 * What a follower prints: notes (stderr) and lines (stdout) said above one progress bar,
 * which appears once there are bytes to show. Ctrl-C leaves the bar as it is.
 */
export class BarView {
  protected progress: ProgressRenderer | undefined;

  constructor(
    protected readonly ctx: { stdout: OutputStream; stderr: OutputStream },
    protected readonly tty: boolean,
    protected readonly now: () => number,
  ) {}

  /** The bar, made on first use with this label. */
  protected bar(label: string): ProgressRenderer {
    this.progress ??= new ProgressRenderer({ stream: this.ctx.stderr, tty: this.tty, label, now: this.now });
    return this.progress;
  }

  abandon(): void {
    this.progress?.finish();
  }

  note(text: string): void {
    if (this.progress) this.progress.interject(text, this.ctx.stderr);
    else this.ctx.stderr.write(`${text}\n`);
  }

  protected print(text: string): void {
    if (this.progress) this.progress.interject(text, this.ctx.stdout);
    else this.ctx.stdout.write(`${text}\n`);
  }
}
