/**
 * Every error a client can see, with its HTTP status: one module, one shape
 * (`{"error":{"code":"...","message":"..."}}`), the same words in the API and the CLI.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  INVALID_METADATA: 400,
  EMPTY_LOG: 400,
  /** A patch list (PUT /api/v1/runs/:id/patches) that cannot be a series' patches. */
  INVALID_PATCHES: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  RUN_NOT_FOUND: 404,
  SERIES_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  MACHINE_NOT_FOUND: 404,
  COLLECTION_NOT_FOUND: 404,
  TEST_NOT_FOUND: 404,
  ISSUE_NOT_FOUND: 404,
  NO_RUNS: 404,
  NOT_FOUND: 404,
  /** A new name that already names another series or machine. */
  NAME_TAKEN: 409,
  LOG_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BAD_ENCODING: 400,
  NOT_KSELFTEST: 422,
  /** The parse worker ran past its deadline and was stopped; nothing is stored. */
  PARSE_DEADLINE: 422,
  /** A value of the log the database cannot keep (PostgreSQL: a name past its index's entry size); nothing is stored. */
  UNSTORABLE: 422,
  /** The body came slower than the floor, or the request took longer than the request timeout. */
  REQUEST_TIMEOUT: 408,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  STORE_UNAVAILABLE: 503,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export class KsftError extends Error {
  readonly statusCode: number

  constructor (readonly code: ErrorCode, message: string) {
    super(message)
    this.name = 'KsftError'
    this.statusCode = ERROR_STATUS[code]
  }
}

export interface ErrorBody {
  error: { code: string, message: string }
}

export function errorBody (code: string, message: string): ErrorBody {
  return { error: { code, message } }
}
