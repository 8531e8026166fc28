/** What the Microsoft 365 benchmarks share: sizes, settings from the environment, timing with peak memory. */
export const MB = 1_000_000;
export const MIB = 1024 * 1024;

/** A positive number from the environment, else the default. */
export function env(name: string, dflt: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** Peak RSS while fn runs, sampled every 50 ms. */
export async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; peakRssMiB: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const t0 = performance.now();
  try {
    const value = await fn();
    return { value, seconds: (performance.now() - t0) / 1000, peakRssMiB: Math.round(Math.max(peak, process.memoryUsage().rss) / MIB) };
  } finally {
    clearInterval(timer);
  }
}
