/**
 * `@latchkey/verifier`: what a resource server embeds to accept Latchkey's access tokens. JWTs are
 * verified locally against the discovered JWKS; opaque tokens by introspection; both against the
 * revocation feed the verifier follows, so that a revoked token is refused within the feed's delay,
 * and every refusal is an error with an RFC 6750 `code`.
 *
 * ```ts
 * import { createVerifier } from '@latchkey/verifier'
 * const verifier = createVerifier({ issuer, audience, clientId, clientSecret })
 * const claims = await verifier.verify(token) // rejects with VerifierError
 * ```
 *
 * Middleware: `@latchkey/verifier/fastify`, `@latchkey/verifier/express`, `@latchkey/verifier/hono`.
 * DPoP proofs (RFC 9449): `@latchkey/verifier/dpop`.
 * The server re-exports all of it as `latchkey/verifier`.
 */
import type { VerifierOptions } from './options.js'
import { Verifier } from './verifier.js'

export {
  VerifierConfigError,
  VerifierError,
  type AuthScheme,
  type VerifierErrorCode,
} from './errors.js'
export type { DPoPRequest } from './dpop_check.js'
export { OAuthError, type OAuthErrorCode, type OAuthErrorOptions } from './oauth_error.js'
export type { VerifierOptions } from './options.js'
export {
  requireScopes,
  type VerifiedClaims,
  type VerifierStats,
  type VerifyOptions,
} from './verifier.js'
export type { Verifier }

/**
 * Creates a verifier for the tokens of `options.issuer` meant for `options.audience`. Checks the
 * options at once (a `TypeError` names the first wrong one), then discovers the server's metadata and
 * starts following its revocation feed in the background. `verify(token)` resolves with the token's
 * claims or rejects with a `VerifierError` whose `code` is `invalid_token`, `insufficient_scope`,
 * `invalid_request`, `invalid_dpop_proof` (RFC 9449 §7.1) or `temporarily_unavailable`; a configuration mistake (credentials refused,
 * another issuer, no metadata at the issuer URL) is a `VerifierConfigError` (code
 * `temporarily_unavailable`) whose message names it, from `ready()` and `verify()` alike, at once.
 * Call `close()` to stop its timers, stream and requests: nothing keeps the process alive after it.
 *
 * Does not check what the token allows beyond `scopes`: authorization decisions stay the caller's.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (JWT access tokens)
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2 (introspection of opaque tokens)
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1 (error codes)
 */
export function createVerifier(options: VerifierOptions): Verifier {
  return new Verifier(options)
}
