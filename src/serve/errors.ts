// Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}, with the HTTP status
// beside them. Every failure the server answers goes through ApiError, so clients written for
// OpenAI's API (and Retort's own HTTP teacher) read them the same way.
import type { z } from 'zod';

export type ErrorType =
  | 'invalid_request_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (Retry-After on 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 from zod's issues: each names its field path, what was expected and what came. */
export function fromZod(err: z.ZodError): ApiError {
  const issues = err.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
  const first = err.issues[0];
  return new ApiError(
    400,
    `invalid request: ${issues.join('; ')}`,
    'invalid_request_error',
    first?.path.length ? first.path.join('.') : null,
    'invalid_value',
  );
}
