import { issuesToFieldMessages } from '@common/field-messages.js';
import type { z } from 'zod';

/**
 * A form's `validate` from a zod schema, in plain words under each field ("Enter a name", not
 * zod's "Too small: …"): the same mapping the server uses for its field errors.
 */
export function plainResolver(schema: z.ZodType): (values: unknown) => Record<string, string> {
  return (values) => {
    const result = schema.safeParse(values);
    return result.success ? {} : issuesToFieldMessages(result.error.issues);
  };
}
