import { z } from 'zod';

/** Every non-2xx JSON response from the API has this shape. */
export const ApiErrorSchema = z.object({
  error: z.string().describe('Stable machine-readable code, e.g. VALIDATION_FAILED'),
  message: z.string().describe('One sentence a person can act on'),
  field: z.string().optional().describe('The request field that was wrong, when there is one'),
  detail: z.string().optional().describe("A tool's raw output behind the message, for the curious and for support"),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;
