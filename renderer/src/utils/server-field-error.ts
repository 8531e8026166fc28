import { fieldErrorMessage, isApiError } from '../api/api-error.js';

export interface ServerFieldError<Field extends string> {
  field: Field;
  message: string;
}

/** The server names the offending field when it can; such errors belong next to that input. */
export function serverFieldError<Field extends string>(
  error: unknown,
  fields: readonly Field[],
): ServerFieldError<Field> | null {
  if (!isApiError(error) || error.field === undefined) return null;
  const field = fields.find((candidate) => candidate === error.field);
  return field === undefined ? null : { field, message: fieldErrorMessage(error, field) };
}

/** What is left for the form-level alert once field errors are shown on their fields. */
export function formLevelError(error: unknown, fields: readonly string[]): unknown {
  return serverFieldError(error, fields) === null ? error : null;
}
