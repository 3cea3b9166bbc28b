/**
 * Checking a JWT access token locally (RFC 9068 §4), from the token's bytes to its claims: the
 * header allow-list and shape (`decodeJWT`), `typ` at+jwt, the key by `kid`, `alg` equal to the key's
 * own, the signature, then `iss`, `aud`, `exp`, `nbf`, `iat` with the clock tolerance (`checkClaims`).
 * Does not check revocation or scope: the verifier does, after this.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
import {
  checkClaims,
  decodeJWT,
  isAccessTokenType,
  JWTInvalid,
  type AccessTokenClaims,
  type JWTVerificationKey,
} from './jwt.js'
import { invalidToken } from './errors.js'

export interface JWTCheckOptions {
  issuer: string
  audience: string
  clockTolerance: number
  /** Off the event loop (`offload.ts`): by `offloaded`, or else on libuv's thread pool. */
  offload: boolean
  /** Makes an offloaded check (`SignatureWorker.verify`). */
  offloaded?: (key: JWTVerificationKey, input: string, signature: Buffer) => Promise<boolean>
  /** Told what an inline check took, ms. */
  ranInline?: (ms: number) => void
  /** The key for `kid`: cached, or after a (rate-limited) JWKS refetch. */
  key: (kid: string) => JWTVerificationKey | undefined | Promise<JWTVerificationKey | undefined>
}

export interface CheckedJWT {
  claims: AccessTokenClaims
  kid: string
}

/** Rejects with `VerifierError(invalid_token)` saying why, or with the key lookup's own error. */
export async function checkJWT(
  token: string,
  o: JWTCheckOptions,
  nowSeconds: () => number,
): Promise<CheckedJWT> {
  let decoded
  try {
    decoded = decodeJWT(token)
  } catch (err) {
    throw invalidToken(err instanceof JWTInvalid ? err.message : 'malformed token', err)
  }
  const { header } = decoded
  // RFC 9068 §4: refuse anything not typed as an access token (an ID token, a plain JWT) before
  // spending a key lookup on it.
  if (!isAccessTokenType(header.typ)) throw invalidToken('typ is not at+jwt')
  // A cached key is looked up without a turn of the event loop; only a refetch is waited for.
  const found = o.key(header.kid)
  const key = found instanceof Promise ? await found : found
  if (key === undefined) throw invalidToken('unknown signing key')
  // The algorithm comes from the key, never from the token (RFC 8725 §3.1, CVE-2015-9235).
  if (header.alg !== key.alg) throw invalidToken('alg does not match the key')
  let ok: boolean
  if (o.offload) {
    ok = await (o.offloaded
      ? o.offloaded(key, decoded.signingInput, decoded.signature)
      : key.verify(decoded.signingInput, decoded.signature))
  } else {
    const started = performance.now()
    ok = key.verifySync(decoded.signingInput, decoded.signature)
    o.ranInline?.(performance.now() - started)
  }
  if (!ok) throw invalidToken('signature is not valid')
  try {
    const claims = checkClaims(decoded.payload, {
      issuer: o.issuer,
      audience: o.audience,
      now: nowSeconds(),
      leeway: o.clockTolerance,
    })
    return { claims, kid: key.kid }
  } catch (err) {
    throw invalidToken(err instanceof JWTInvalid ? err.message : 'invalid claims', err)
  }
}
