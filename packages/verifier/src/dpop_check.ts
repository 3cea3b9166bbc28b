/**
 * The sender constraint of a verified token (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is
 * accepted only with the `DPoP` scheme and a proof of that key for this request, seen once; a bearer
 * token is accepted with the `Bearer` scheme unless the request asks for DPoP only. Runs after the
 * token's own checks, on every request (a cached token still needs a fresh proof).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
import { checkDpopProof, DPoPProofError, type DPoPReplayCache } from './dpop.js'
import { invalidDpopProof, VerifierError, type AuthScheme } from './errors.js'
import type { AccessTokenClaims, SigningAlg } from './jwt.js'

/** How the token came: its scheme, the request's DPoP proof, method and URL (RFC 9449 §7.1). */
export interface DPoPRequest {
  /** The scheme of the `Authorization` header. */
  scheme: AuthScheme
  /** The `DPoP` header's value; `undefined` without one. */
  proof: string | undefined
  /** The request's method. */
  htm: string
  /** The request's URL as the client called it (query and fragment are ignored). */
  htu: string
  /** Refuse tokens that are not bound to a key: this resource accepts DPoP only. Default false. */
  required?: boolean
}

export interface SenderCheckOptions {
  replays: DPoPReplayCache
  algs: readonly SigningAlg[]
  /** Seconds since the epoch. */
  now: number
  maxAgeSeconds: number
  clockTolerance: number
}

const unbound = (description: string): VerifierError =>
  new VerifierError('invalid_token', description, { scheme: 'DPoP' })

/**
 * Throws `invalid_token` when the token is presented with the wrong scheme (a bound token as Bearer,
 * an unbound one as DPoP, a bearer token where DPoP is required) and `invalid_dpop_proof` when the
 * proof is missing, invalid, for another request, token or key, or replayed. Without `request`, the
 * token is taken as sent with `Bearer`.
 */
export function checkSender(
  token: string,
  claims: Readonly<AccessTokenClaims>,
  request: DPoPRequest | undefined,
  o: SenderCheckOptions,
): void {
  const cnf = claims.cnf
  if (request === undefined || request.scheme === 'Bearer') {
    // RFC 9449 §7.2: a bound token is not a bearer token.
    if (cnf !== undefined) {
      throw unbound('the token is bound to a key: send it with the DPoP scheme and a proof')
    }
    if (request?.required === true) throw unbound('this resource accepts DPoP-bound tokens only')
    return
  }
  const jkt = cnf?.jkt
  if (jkt === undefined) {
    throw unbound(
      cnf === undefined
        ? 'the token is not bound to a key: send it with the Bearer scheme'
        : 'the token is bound by a method this resource does not support',
    )
  }
  if (request.proof === undefined) throw invalidDpopProof('no DPoP proof')
  let proof
  try {
    proof = checkDpopProof(request.proof, {
      htm: request.htm,
      htu: request.htu,
      accessToken: token,
      algs: o.algs,
      now: o.now,
      maxAgeSeconds: o.maxAgeSeconds,
      clockTolerance: o.clockTolerance,
    })
  } catch (err) {
    if (err instanceof DPoPProofError) throw invalidDpopProof(err.message, err)
    throw err
  }
  // RFC 9449 §7.1: the proof's key is the one the token is bound to.
  if (proof.jkt !== jkt)
    throw invalidDpopProof('the proof is signed by another key than the token is bound to')
  // RFC 9449 §11.1: a proof is accepted once while its iat is in the window.
  const expiresAt = (proof.iat + o.maxAgeSeconds + o.clockTolerance + 1) * 1000
  if (!o.replays.remember(proof, expiresAt, o.now * 1000)) {
    throw invalidDpopProof('the DPoP proof has been used before')
  }
}
