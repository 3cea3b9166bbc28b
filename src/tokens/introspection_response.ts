/**
 * JWT introspection responses (RFC 9701): the answer the introspection endpoint would give as JSON,
 * signed by the authorization server so that a resource server can keep it as evidence or pass it on.
 * Signed with the key that signs access tokens now (the one the JWKS publishes), yet never mistakable
 * for an access token: its own `typ` and, at the top level, only `iss`, `aud`, `iat` and
 * `token_introspection` (no `sub`, `exp`, `scope` or `client_id`), so a verifier that checks `typ`,
 * `exp` or `sub` refuses it as a bearer token.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9701#section-5
 */
import type { KeyRing } from './key_ring.js'

/** The media type a resource server asks for, and the answer's Content-Type (RFC 9701 §4, §5). */
export const INTROSPECTION_JWT_MEDIA_TYPE = 'application/token-introspection+jwt'

/** The JOSE header's `typ` (RFC 9701 §5: the media type without `application/`). */
export const INTROSPECTION_JWT_TYPE = 'token-introspection+jwt'

export interface IntrospectionResponseInput {
  /** The server's issuer identifier: `iss`. */
  issuer: string
  /** The authenticated client that asked: `aud` (RFC 9701 §5: it identifies the resource server). */
  audience: string
  /** Seconds since the epoch: `iat`. */
  now: number
  /** The RFC 7662 §2.2 object, exactly as the JSON answer would be (`{"active": false}` included). */
  response: Readonly<Record<string, unknown>>
}

/**
 * The signed response: a compact JWS with `typ: token-introspection+jwt`, `alg` and `kid` of the key
 * signing at `now`. Throws when no signing key is active (a server fault, answered with a 500). Does
 * not decide what `response` holds or whom it may be shown to: the endpoint does.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9701#section-5
 */
export function signIntrospectionResponse(
  keys: KeyRing,
  input: IntrospectionResponseInput,
): Promise<string> {
  const signer = keys.signer(input.now)
  if (!signer) throw new Error('no active signing key')
  return signer.signTyped(INTROSPECTION_JWT_TYPE, {
    iss: input.issuer,
    aud: input.audience,
    iat: input.now,
    token_introspection: input.response,
  })
}
