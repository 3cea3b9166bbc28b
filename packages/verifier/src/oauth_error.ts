/**
 * Protocol errors. One class carries the RFC error code, the HTTP status and a description that is safe
 * to show the client; internal detail goes in `cause`, which is logged and never sent. The verifier SDK
 * rejects with the same class (its `VerifierError` extends it), so it is defined there.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-12.2
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'slow_down'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'

const defaultStatus: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  invalid_target: 400,
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
  // RFC 9449 §5 (token endpoint) and §8; a resource server answers invalid_dpop_proof with 401 (§7.1).
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
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
