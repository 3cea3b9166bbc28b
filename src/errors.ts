/**
 * Protocol errors. One class carries the RFC error code, the HTTP status and a description that is safe
 * to show the client; internal detail goes in `cause`, which is logged and never sent.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'slow_down'

const defaultStatus: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  unsupported_token_type: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  server_error: 500,
  temporarily_unavailable: 503,
  slow_down: 429,
}

export interface OAuthErrorOptions {
  status?: number
  cause?: unknown
  /** Seconds; rendered as `Retry-After`. */
  retryAfter?: number
}

export class OAuthError extends Error {
  override readonly name = 'OAuthError'
  readonly code: OAuthErrorCode
  readonly status: number
  /** Safe to send to the client. */
  readonly description: string
  readonly retryAfter: number | undefined

  constructor(code: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = options.status ?? defaultStatus[code]
    this.description = description
    this.retryAfter = options.retryAfter
  }
}

/**
 * A mistake in what was asked of an operation (`client create` with a malformed id, a user that does
 * not exist): reported as is, by the CLI as its one line on stderr. The message names the CLI flag.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** A mistake in configuration or in a command's arguments: reported once, never as an OAuth response. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/**
 * The database named does not exist and the caller asked not to create it (`create: false`): almost
 * always a typo or the wrong folder. `location` is what may be shown (a path, never a password).
 */
export class MissingDatabaseError extends Error {
  override readonly name = 'MissingDatabaseError'
  constructor(readonly location: string) {
    super(`no database at ${location}`)
  }
}

/** The store could not be reached or failed: the server answers 503 and fails closed. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError'
}

/** A uniqueness rule of the store was broken (duplicate client id, …). */
export class ConflictError extends Error {
  override readonly name = 'ConflictError'
}
