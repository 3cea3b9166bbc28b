/**
 * The verifier's one error class: an `OAuthError` whose code is one a resource server sends (RFC 6750
 * §3.1), plus `temporarily_unavailable` when it cannot decide (the authorization server or its feed
 * cannot be reached). The description is safe to show the caller; detail goes in `cause`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
import { OAuthError } from '../errors.js'

export type VerifierErrorCode =
  'invalid_token' | 'insufficient_scope' | 'invalid_request' | 'temporarily_unavailable'

export class VerifierError extends OAuthError {
  declare readonly code: VerifierErrorCode
  /** For `insufficient_scope`: the scope the request needs, space-separated (RFC 6750 §3). */
  readonly scope: string | undefined

  constructor(
    code: VerifierErrorCode,
    description: string,
    options: { cause?: unknown; scope?: string; retryAfter?: number } = {},
  ) {
    super(code, description, {
      cause: options.cause,
      status: code === 'temporarily_unavailable' ? 503 : undefined,
      retryAfter: options.retryAfter,
    })
    this.scope = options.scope
  }
}

/** `invalid_token` with a reason. */
export function invalidToken(description: string, cause?: unknown): VerifierError {
  return new VerifierError('invalid_token', description, { cause })
}

/** `temporarily_unavailable`: the verifier cannot tell, and refuses rather than guess. */
export function unavailable(description: string, cause?: unknown): VerifierError {
  return new VerifierError('temporarily_unavailable', description, { cause, retryAfter: 1 })
}
