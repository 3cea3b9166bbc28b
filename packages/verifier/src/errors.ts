/**
 * The verifier's one error class: an `OAuthError` whose code is one a resource server sends (RFC 6750
 * §3.1, and RFC 9449 §7.1's `invalid_dpop_proof`), plus `temporarily_unavailable` when it cannot decide (the authorization server or its feed
 * cannot be reached, or the verifier's configuration is wrong: `VerifierConfigError`). The description
 * is safe to show the caller, except a `VerifierConfigError`'s; detail goes in `cause`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
import { OAuthError } from './oauth_error.js'

export type VerifierErrorCode =
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_request'
  | 'temporarily_unavailable'
  | 'invalid_dpop_proof'

/** The authentication scheme a challenge names (RFC 6750 §3, RFC 9449 §7.1). */
export type AuthScheme = 'Bearer' | 'DPoP'

export class VerifierError extends OAuthError {
  declare readonly code: VerifierErrorCode
  /** For `insufficient_scope`: the scope the request needs, space-separated (RFC 6750 §3). */
  readonly scope: string | undefined
  /**
   * The scheme the caller should use, when the refusal is about it: `DPoP` for a bound token sent as
   * a bearer token, or a bearer token where only DPoP is accepted. Unset: the scheme the request used.
   */
  readonly scheme: AuthScheme | undefined

  constructor(
    code: VerifierErrorCode,
    description: string,
    options: { cause?: unknown; scope?: string; retryAfter?: number; scheme?: AuthScheme } = {},
  ) {
    super(code, description, {
      cause: options.cause,
      status:
        code === 'temporarily_unavailable' ? 503 : code === 'invalid_dpop_proof' ? 401 : undefined,
      retryAfter: options.retryAfter,
    })
    this.scope = options.scope
    this.scheme = options.scheme
  }
}

/**
 * The verifier, or the server it names, is set up wrong: this API's client credentials are refused
 * (401/403 from the revocation feed or the introspection endpoint), the metadata names another issuer,
 * or the issuer URL serves no usable metadata (a 4xx, not JSON). Retrying will not help until someone
 * fixes the configuration, so `ready()` and `verify()` reject with it at once, whatever the token, and
 * the message names the cause (`the revocation feed refused this API's credentials (401)`,
 * `metadata names issuer X, expected Y`). Its `code` is `temporarily_unavailable`: the caller's token
 * is not at fault, so middleware answers 503 without a Bearer challenge (and with a generic
 * description: the cause is for the operator, not for the API's callers). The verifier goes on
 * retrying in the background with backoff, and recovers by itself once the configuration is fixed.
 */
export class VerifierConfigError extends VerifierError {
  constructor(description: string, cause?: unknown) {
    super('temporarily_unavailable', description, { cause, retryAfter: 5 })
  }
}

/** `invalid_token` with a reason. */
export function invalidToken(description: string, cause?: unknown): VerifierError {
  return new VerifierError('invalid_token', description, { cause })
}

/** `invalid_dpop_proof` (RFC 9449 §7.1) with a reason: the proof is missing, malformed or wrong. */
export function invalidDpopProof(description: string, cause?: unknown): VerifierError {
  return new VerifierError('invalid_dpop_proof', description, { cause, scheme: 'DPoP' })
}

/** `temporarily_unavailable`: the verifier cannot tell, and refuses rather than guess. */
export function unavailable(description: string, cause?: unknown): VerifierError {
  return new VerifierError('temporarily_unavailable', description, { cause, retryAfter: 1 })
}
