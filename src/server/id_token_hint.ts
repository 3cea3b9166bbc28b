/**
 * The `id_token_hint` of a logout request (OpenID Connect RP-Initiated Logout 1.0 §2): an ID token
 * this server issued, presented back to say which user and session the relying party means. Checked
 * as the spec asks: signed by one of the server's published keys, `iss` this issuer, `aud` naming a
 * client. Its expiry is not checked: §2 lets a relying party send a hint that has expired, which is the
 * usual case at logout.
 *
 * Does not check that the audience is a registered client or that the user is signed in: the
 * endpoint does.
 */
import type { ServerContext } from './context.js'
import { decodeJWT, JWTInvalid } from '../tokens/jwt.js'

export interface IdTokenHint {
  /** The user (`sub`). */
  sub: string
  /** The client it was issued to: `aud` (with several audiences, the `azp` among them). */
  clientId: string
  /** The session (`sid`), when the token names one. */
  sid: string | undefined
}

/**
 * Verifies an `id_token_hint`; throws `JWTInvalid` with a reason safe to log. The algorithm comes from
 * the key, never from the token; access tokens (`typ` `at+jwt`) and logout tokens are refused.
 */
export async function checkIdTokenHint(token: string, ctx: ServerContext): Promise<IdTokenHint> {
  const decoded = decodeJWT(token)
  const key = ctx.keys.verificationKey(decoded.header.kid)
  if (!key) throw new JWTInvalid('unknown kid')
  if (decoded.header.alg !== key.alg) throw new JWTInvalid('alg does not match the key')
  if (!(await key.verify(decoded.signingInput, decoded.signature))) {
    throw new JWTInvalid('bad signature')
  }
  const typ = decoded.header.typ
  // OIDC Core §2 sets no `typ` for an ID token; Latchkey's carry `JWT`.
  if (typ !== undefined && typ.toUpperCase() !== 'JWT') throw new JWTInvalid('typ is not JWT')
  const { iss, sub, aud, azp, sid } = decoded.payload
  if (iss !== ctx.config.issuer) throw new JWTInvalid('iss does not match')
  if (typeof sub !== 'string' || sub === '') throw new JWTInvalid('sub is missing')
  if (sid !== undefined && typeof sid !== 'string') throw new JWTInvalid('sid is not a string')
  return { sub, clientId: audienceClient(aud, azp), sid }
}

/** The client an ID token was issued to: its one `aud`, or with several the `azp` among them. */
function audienceClient(aud: unknown, azp: unknown): string {
  if (typeof aud === 'string' && aud !== '') return aud
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')) {
    if (aud.length === 1) return aud[0] as string
    if (typeof azp === 'string' && aud.includes(azp)) return azp
  }
  throw new JWTInvalid('aud does not name one client')
}
