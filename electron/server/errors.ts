/**
 * Expected errors: a stable code, an HTTP status and a sentence the user can
 * act on. Anything else reaching the API's error handler is a bug and is
 * logged with context and answered with a generic 500.
 */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  /** Raw output of a tool (virsh, …) kept out of the message: the UI shows it only on request. */
  detail: string | undefined;

  withDetail(detail: string | undefined): this {
    this.detail = detail;
    return this;
  }
}

export const badRequest = (message: string, field?: string): AppError => new AppError(400, 'BAD_REQUEST', message, field);
export const unauthorized = (message = 'sign in first'): AppError => new AppError(401, 'UNAUTHENTICATED', message);
export const forbidden = (message: string): AppError => new AppError(403, 'FORBIDDEN', message);
export const notFound = (message: string, field?: string): AppError => new AppError(404, 'NOT_FOUND', message, field);
export const conflict = (message: string, field?: string): AppError => new AppError(409, 'CONFLICT', message, field);
