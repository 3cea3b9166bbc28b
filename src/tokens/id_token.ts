/**
 * OpenID Connect ID tokens (Core §2): a JWS with header `{alg, typ: "JWT", kid}`, signed by the key
 * of the client's `id_token_signed_response_alg` lineage (RS256 unless registered otherwise), about
 * the user of a session, for the client that holds it. Issued with the access token of the
 * authorization_code grant (Core §3.1.3.3) and again on each refresh (Core §12.2, without `nonce`).
 *
 * Claims: `iss`, `sub`, `aud` (the client id, a string), `azp`, `exp` (`iat` + `idTokenSeconds`),
 * `iat`, `auth_time` (when the user logged in), `nonce` (exactly as the request sent it), `at_hash`
 * (Core §3.1.3.6), `sid` (the session, as in the access tokens), and the standard claims the request's
 * `claims` parameter asked for (Core §5.5) whose scope was granted (`email` for email and
 * email_verified, `profile` for the names, as at the userinfo endpoint, Core §5.4). Does not decide
 * whether an ID token is due: the grants do (scope `openid`).
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDToken
 */
import { createHash } from 'node:crypto'
import { OAuthError } from '../errors.js'
import { profileClaims } from '../profile.js'
import type { ClientRecord, SigningAlg, UserProfile } from '../store/types.js'
import type { KeyRing } from './key_ring.js'

/** Longest `nonce` accepted in an authorization request, characters. */
export const MAX_NONCE_LENGTH = 255

/** Longest `claims` request parameter accepted, characters. */
const MAX_CLAIMS_LENGTH = 4096

/**
 * The standard claims (Core §5.1) an ID token may carry beyond the required ones: those of a
 * Latchkey user profile, each released only with its scope.
 */
export const ID_TOKEN_PROFILE_CLAIMS = [
  'email',
  'email_verified',
  'name',
  'given_name',
  'family_name',
] as const

/** Every claim an ID token may carry, for the discovery document's `claims_supported`. */
export const ID_TOKEN_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'azp',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'at_hash',
  'sid',
  ...ID_TOKEN_PROFILE_CLAIMS,
] as const

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

const malformed = (description: string): OAuthError =>
  new OAuthError('invalid_request', `claims is malformed: ${description}`)

/**
 * The profile claims the `claims` request parameter (Core §5.5) asks for in the ID token, in
 * `ID_TOKEN_PROFILE_CLAIMS` order; none when the parameter is absent or empty. Claims Latchkey does not
 * keep are ignored, and so is the `userinfo` member (userinfo releases claims by scope). Throws
 * `invalid_request` when the value is not a JSON object whose `id_token` and `userinfo` members, when
 * present, are objects of `null` or object values. Does not look at the scope: the issuer does.
 */
export function requestedIdTokenClaims(value: string | undefined): string[] {
  if (value === undefined || value === '') return []
  if (value.length > MAX_CLAIMS_LENGTH)
    throw malformed(`longer than ${MAX_CLAIMS_LENGTH} characters`)
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    throw malformed('not JSON')
  }
  if (!isObject(parsed)) throw malformed('not a JSON object')
  for (const member of ['id_token', 'userinfo'] as const) {
    const requests = parsed[member]
    if (requests === undefined) continue
    if (!isObject(requests)) throw malformed(`${member} is not an object`)
    // Core §5.5.1: each claim is null (default request) or an object (essential, value, values).
    for (const request of Object.values(requests)) {
      if (request !== null && !isObject(request)) throw malformed(`a ${member} claim request`)
    }
  }
  const asked = parsed.id_token
  if (!isObject(asked)) return []
  return ID_TOKEN_PROFILE_CLAIMS.filter((claim) => Object.hasOwn(asked, claim))
}

/** The hash function of `alg`'s signature (JWA RFC 7518 §3; SHA-512 for Ed25519, RFC 8032). */
function hashOf(alg: SigningAlg): 'sha256' | 'sha512' {
  return alg === 'EdDSA' ? 'sha512' : 'sha256'
}

/**
 * `at_hash` (Core §3.1.3.6): the base64url of the left half of the hash of the access token's ASCII
 * octets, with the hash of the ID token's `alg`.
 */
export function accessTokenHash(accessToken: string, alg: SigningAlg): string {
  const digest = createHash(hashOf(alg)).update(accessToken, 'ascii').digest()
  return digest.subarray(0, digest.length / 2).toString('base64url')
}

export interface IdTokenInput {
  issuer: string
  client: ClientRecord
  /** The user's id. */
  sub: string
  /** The Latchkey session id. */
  sid: string
  /** When the user logged in; `null` (omitted) when unknown. */
  authTime: number | null
  /** The authorization request's nonce; none on a refresh. */
  nonce?: string | null | undefined
  /** The access token issued with it, for `at_hash`. */
  accessToken: string
  /** The granted scope: which profile claims may be released. */
  scope: readonly string[]
  /** The profile claims asked for (`requestedIdTokenClaims`). */
  claims: readonly string[]
  /** The user's profile, when `claims` asks for any. */
  profile?: UserProfile | null | undefined
  /** Seconds since the epoch. */
  now: number
  /** Lifetime, seconds. */
  lifetime: number
}

/**
 * Signs an ID token for `input.client` with the key of its ID-token alg. Throws (a server error) when
 * the server has no key of that alg signing now.
 */
export async function issueIdToken(keys: KeyRing, input: IdTokenInput): Promise<string> {
  const alg = input.client.idTokenSignedResponseAlg
  const signer = keys.signerFor(alg, input.now)
  if (!signer) throw new Error(`no active ${alg} signing key for ID tokens`)
  const claims: Record<string, unknown> = {
    iss: input.issuer,
    sub: input.sub,
    aud: input.client.clientId,
    azp: input.client.clientId,
    exp: input.now + input.lifetime,
    iat: input.now,
  }
  if (input.authTime !== null) claims.auth_time = input.authTime
  // Core §3.1.2.1 / §3.1.3.7: the nonce comes back unmodified.
  if (typeof input.nonce === 'string') claims.nonce = input.nonce
  claims.at_hash = accessTokenHash(input.accessToken, alg)
  claims.sid = input.sid
  if (input.profile && input.claims.length > 0) {
    const released = profileClaims(input.profile, input.scope)
    for (const name of input.claims) {
      if (Object.hasOwn(released, name)) claims[name] = released[name]
    }
  }
  return signer.signTyped('JWT', claims)
}
