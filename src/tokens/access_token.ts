/**
 * Minting and checking access tokens of either format. JWTs (RFC 9068) are signed with the current key
 * and checked locally plus one revocation lookup; opaque tokens are stored by hash and checked with one
 * lookup. Either way a check touches the store once.
 */
import { randomBytes } from 'node:crypto'
import type { AccessTokenFormat, ClientRecord, RevocationRef, Store } from '../store/types.js'
import {
  JWTInvalid,
  verifyAccessToken,
  type AccessTokenClaims,
  type VerifiedAccessToken,
} from './jwt.js'
import type { KeyRing } from './key_ring.js'
import { generateOpaqueToken, hashOpaqueToken, looksOpaque } from './opaque.js'

export interface TokenContext {
  store: Store
  keys: KeyRing
  issuer: string
  defaultAudience: string
  /** Seconds since the epoch. */
  clock: () => number
  /** Clock skew tolerated on `exp`/`iat`, seconds. */
  leeway: number
}

export interface AccessTokenGrant {
  client: ClientRecord
  /** The client id for client_credentials, the user id for a user's token. */
  sub: string
  /** Granted scopes, already checked against what the client may have. */
  scope: readonly string[]
  /** The session the token belongs to, if any. */
  sid?: string | null
  /** The `aud`, when not the client's default: a resource indicator (RFC 8707), an exchange target. */
  aud?: string
  /** The acting party of a delegated token (RFC 8693 §4.1); JWT format only (not stored). */
  act?: ActorClaim
  /** The latest `exp` allowed (seconds since the epoch): a token exchanged from another lives no longer. */
  notAfter?: number
  /**
   * The `jti`, when the token stands for another one: a phantom token's JWT carries its opaque token's,
   * so that a revocation of either id covers both (`server/endpoints/phantom.ts`). A fresh one otherwise.
   */
  jti?: string
  /**
   * The thumbprint of the key the token is bound to (RFC 9449 §6): a JWT carries it as `cnf.jkt`, an
   * opaque token's record keeps it. `null` or absent: a bearer token.
   */
  jkt?: string | null
}

/** RFC 8693 §4.1: who acts for `sub`; a nested `act` names the actors before it. */
export interface ActorClaim {
  sub: string
  act?: ActorClaim
}

export interface IssuedAccessToken {
  token: string
  format: AccessTokenFormat
  expiresIn: number
  claims: AccessTokenClaims
  /** `DPoP` when bound to a key, else `Bearer` (the token response's `token_type`, RFC 9449 §5). */
  tokenType: 'Bearer' | 'DPoP'
}

// Random bytes drawn 4 KiB at a time: one CSPRNG call per 256 token ids instead of one each.
let pool = Buffer.alloc(0)
let poolOffset = 0

/** A fresh `jti`: 128 random bits. */
function newTokenId(): string {
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(4096)
    poolOffset = 0
  }
  const id = pool.toString('base64url', poolOffset, poolOffset + 16)
  poolOffset += 16
  return id
}

/** Issues an access token in the client's format. Throws when no signing key is active. */
export async function issueAccessToken(
  ctx: TokenContext,
  grant: AccessTokenGrant,
): Promise<IssuedAccessToken> {
  const { client } = grant
  const iat = ctx.clock()
  let exp = iat + client.accessTokenTtl
  if (grant.notAfter !== undefined && grant.notAfter < exp) exp = grant.notAfter
  const claims: AccessTokenClaims = {
    iss: ctx.issuer,
    sub: grant.sub,
    aud: grant.aud ?? client.audiences[0] ?? ctx.defaultAudience,
    exp,
    iat,
    jti: grant.jti ?? newTokenId(),
    client_id: client.clientId,
  }
  if (grant.scope.length > 0) claims.scope = grant.scope.join(' ')
  if (grant.sid) claims.sid = grant.sid
  if (grant.act) claims.act = grant.act
  const jkt = grant.jkt ?? null
  if (jkt !== null) claims.cnf = { jkt }
  const tokenType = jkt === null ? 'Bearer' : 'DPoP'
  const expiresIn = exp - iat
  if (client.accessTokenFormat === 'jwt') {
    const signer = ctx.keys.signer(iat)
    if (!signer) throw new Error('no active signing key')
    return { token: await signer.sign(claims), format: 'jwt', expiresIn, claims, tokenType }
  }
  // The store keeps no `act`: a delegated token would lose it and pass for the subject's own.
  if (grant.act) throw new Error('a delegated token (act) must be a JWT')
  const { token, hash } = generateOpaqueToken()
  await ctx.store.saveToken({
    hash,
    clientId: client.clientId,
    sub: claims.sub,
    scope: claims.scope ?? '',
    aud: claims.aud as string,
    jti: claims.jti,
    sid: claims.sid ?? null,
    issuedAt: iat,
    expiresAt: claims.exp,
    jkt,
  })
  return { token, format: 'opaque', expiresIn, claims, tokenType }
}

export interface LiveAccessToken {
  format: AccessTokenFormat
  claims: AccessTokenClaims
  /** The store key of an opaque token. */
  hash?: string
}

/**
 * The revocation events that could cover a JWT: its own id, session, subject, client and signing key
 * (a retired key's event reaches every node before their key rings reload).
 */
export function revocationRefs(claims: AccessTokenClaims, kid: string): RevocationRef[] {
  const refs: RevocationRef[] = [
    { kind: 'jti', value: claims.jti },
    { kind: 'kid', value: kid },
    { kind: 'sub', value: claims.sub },
    { kind: 'client', value: claims.client_id },
  ]
  if (claims.sid) refs.push({ kind: 'sid', value: claims.sid })
  return refs
}

/**
 * The claims of `token` when it is a live access token of this server: for a JWT, a valid signature by
 * a published key, valid claims and no revocation; for an opaque token, a stored, unexpired record.
 * `null` for anything else (expired, revoked, unknown, malformed, forged). Does not check who asks.
 *
 * `opaqueHash`, when given, must be `hashOpaqueToken(token)`: a caller that looks a missed token up
 * again (as a refresh token) hashes it once. It is not checked against `token`.
 */
export async function resolveAccessToken(
  ctx: TokenContext,
  token: string,
  opaqueHash?: string,
): Promise<LiveAccessToken | null> {
  const now = ctx.clock()
  if (token.includes('.')) {
    let verified: VerifiedAccessToken
    try {
      verified = await verifyAccessToken(token, (kid) => ctx.keys.verificationKey(kid, now), {
        issuer: ctx.issuer,
        now,
        leeway: ctx.leeway,
        expLeeway: 0,
      })
    } catch (err) {
      if (err instanceof JWTInvalid) return null
      throw err
    }
    const { claims, kid } = verified
    if (await ctx.store.isRevoked(revocationRefs(claims, kid), claims.iat, now)) return null
    return { format: 'jwt', claims }
  }
  if (!looksOpaque(token)) return null
  const hash = opaqueHash ?? hashOpaqueToken(token)
  const record = await ctx.store.findToken(hash, now)
  if (!record) return null
  const claims: AccessTokenClaims = {
    iss: ctx.issuer,
    sub: record.sub,
    aud: record.aud,
    exp: record.expiresAt,
    iat: record.issuedAt,
    jti: record.jti,
    client_id: record.clientId,
  }
  if (record.scope) claims.scope = record.scope
  if (record.sid) claims.sid = record.sid
  if (record.jkt) claims.cnf = { jkt: record.jkt }
  return { format: 'opaque', claims, hash }
}
