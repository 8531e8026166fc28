/**
 * Date filters pick whole days (YYYY-MM-DD, as <input type="date"> gives them, in the
 * browser's time zone); the server takes instants: a day's start, and the start of the day
 * after it as the (excluded) end.
 */
function dayInstant(day: string, days: number): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + days).toISOString();
}

export const dayStart = (day: string): string => dayInstant(day, 0);
export const dayEnd = (day: string): string => dayInstant(day, 1);
