import { z } from 'zod';
import type { CatalogChoice, FirstRunResult } from '../preload/desktop-api.js';

const REMOTE_URL_HINT = 'mariadb://USER:PASSWORD@HOST:3306/DATABASE';

const DbUrlSchema = z
  .string()
  .trim()
  .min(1, `enter the MariaDB server's URL, e.g. ${REMOTE_URL_HINT}`)
  .max(2048, 'that URL is too long')
  .refine((v) => v.startsWith('mariadb://'), `the URL must start with mariadb://, e.g. ${REMOTE_URL_HINT}`)
  .refine((v) => {
    try {
      const url = new URL(v);
      return url.hostname !== '' && url.pathname.length > 1;
    } catch {
      return false;
    }
  }, `the URL needs a host and a database, e.g. ${REMOTE_URL_HINT}`);

/** The first-run choice as the page sends it: checked here, in main, never trusted. */
export const CatalogChoiceSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('managed') }).strict(),
  z.object({ mode: z.literal('remote'), dbUrl: DbUrlSchema }).strict(),
]);

export function parseCatalogChoice(input: unknown): { choice: CatalogChoice; result: FirstRunResult } {
  const parsed = CatalogChoiceSchema.safeParse(input);
  if (parsed.success) return { choice: parsed.data, result: { ok: true } };
  const message = parsed.error.issues[0]?.message ?? 'choose where the catalog lives';
  return { choice: { mode: 'managed' }, result: { ok: false, message } };
}
