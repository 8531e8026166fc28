import type { ApiError } from '@common/api/index.js';
import { plainFieldMessage } from '@common/field-messages.js';

/** A failed API call, carrying the server's {error, message, field} body. */
export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  /** HTTP status; 0 when the server could not be reached at all. */
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  /** A tool's raw output behind the message (virsh, …), shown only on request. */
  readonly detail: string | undefined;

  constructor(status: number, body: ApiError, options?: ErrorOptions) {
    super(body.message, options);
    this.status = status;
    this.code = body.error;
    this.field = body.field;
    this.detail = body.detail;
  }
}

export function isApiError(error: unknown, status?: number): error is ApiRequestError {
  return error instanceof ApiRequestError && (status === undefined || error.status === status);
}

/**
 * Only an unreachable server (0) or a server error (5xx) might go away on retry; a 4xx or a
 * response that does not match the contract will not.
 */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof ApiRequestError)) return false;
  return error.status === 0 || error.status >= 500;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error && error.message !== '') return error.message;
  return 'Something went wrong. Try again.';
}

/** What to show under `field` for a refusal placed there: the server's reason, in plain words. */
export function fieldErrorMessage(error: unknown, field: string): string {
  if (isApiError(error) && error.message !== '') return plainFieldMessage(error.field ?? field, error.message);
  return errorMessage(error);
}

/**
 * An onError for forms: a refusal that `fieldOf` places on a field is shown under it, in plain
 * words; the rest stays for the form's own error line (which shows what `fieldOf` does not
 * place). `reveal` makes a hidden field appear first (e.g. the password of an encrypted repository).
 */
export function showOnField<F extends string>(
  form: { setFieldError: (field: F, message: string) => void },
  fieldOf: (error: unknown) => F | null,
  reveal?: (field: F) => void,
): (error: unknown) => void {
  return (error) => {
    const field = fieldOf(error);
    if (field === null) return;
    reveal?.(field);
    form.setFieldError(field, fieldErrorMessage(error, field));
  };
}
