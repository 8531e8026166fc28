const DAY_MS = 86_400_000;

/** Readings closer together than this say nothing about a trend. */
const MIN_SPAN_MS = DAY_MS / 2;

/**
 * Growth of a destination in bytes per day: the slope of a least-squares line through its
 * stored-size readings. Null with fewer than two readings or when they span less than half a day.
 */
export function growthPerDay(readings: ReadonlyArray<{ at: number; bytes: number }>): number | null {
  if (readings.length < 2) return null;
  const first = readings[0]!.at;
  const last = readings[readings.length - 1]!.at;
  if (last - first < MIN_SPAN_MS) return null;
  const n = readings.length;
  // Days since the first reading keep the sums small enough for doubles.
  const xs = readings.map((r) => (r.at - first) / DAY_MS);
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = readings.reduce((a, r) => a + r.bytes, 0) / n;
  let sxy = 0;
  let sxx = 0;
  readings.forEach((r, i) => {
    const dx = xs[i]! - meanX;
    sxy += dx * (r.bytes - meanY);
    sxx += dx * dx;
  });
  return sxx === 0 ? null : sxy / sxx;
}

/** Days until the free space is used up at that growth; null when it does not grow or free space is unknown. */
export function daysUntilFull(freeBytes: number | null, growth: number | null): number | null {
  if (freeBytes === null || growth === null || growth <= 0) return null;
  return freeBytes / growth;
}
