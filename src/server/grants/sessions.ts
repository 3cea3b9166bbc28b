/**
 * What the authorization_code and refresh_token grants share: starting a session's token lineage and
 * answering with an access token bound to the session (`sid`) plus its current refresh token, and an
 * ID token when the session's scope has `openid` (OpenID Connect Core §3.1.3.3, §12.2).
 */
import { randomBytes } from 'node:crypto'
import type {
  ClientRecord,
  RefreshTokenRecord,
  SessionRecord,
  UserProfile,
} from '../../store/types.js'
import { issueAccessToken } from '../../tokens/access_token.js'
import { issueIdToken } from '../../tokens/id_token.js'
import { generateOpaqueToken } from '../../tokens/opaque.js'
import type { ServerContext } from '../context.js'
import { scopeList } from '../scope.js'
import type { TokenResponse } from './types.js'

/** A new session id: 128 random bits. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url')
}

/**
 * A new refresh token of `session`, living as long as the session may; bound to the key `jkt` when
 * given (a public client's, RFC 9449 §5).
 */
export function newRefreshToken(
  session: Pick<SessionRecord, 'id' | 'userId' | 'clientId' | 'scope' | 'expiresAt'>,
  now: number,
  jkt: string | null,
): { token: string; record: RefreshTokenRecord } {
  const { token, hash } = generateOpaqueToken()
  return {
    token,
    record: {
      hash,
      sessionId: session.id,
      clientId: session.clientId,
      userId: session.userId,
      scope: session.scope,
      issuedAt: now,
      expiresAt: session.expiresAt,
      usedAt: null,
      successorHash: null,
      successorSealed: null,
      jkt,
    },
  }
}

/** What only the first ID token of a session carries. */
export interface FirstIdToken {
  /** The authorization request's `nonce` (OpenID Connect Core §3.1.2.1); never on a refresh. */
  nonce: string | null
  /** The user's profile, already read by the grant. */
  profile: UserProfile
}

/**
 * The token response for a session: a fresh access token and, when there is one, the refresh token;
 * with an ID token when the session's scope has `openid`. `aud` is the resource asked for (RFC 8707),
 * when not the client's default. `first` is given by the authorization_code grant; a refresh gives
 * none (no `nonce`, OpenID Connect Core §12.2) and the profile is read when claims are asked for.
 */
export async function sessionTokenResponse(
  ctx: ServerContext,
  client: ClientRecord,
  session: Pick<SessionRecord, 'id' | 'userId' | 'scope' | 'authTime' | 'claims'>,
  scope: string[],
  refreshToken: string | null,
  aud?: string,
  first?: FirstIdToken,
  jkt?: string | null,
): Promise<TokenResponse> {
  const issued = await issueAccessToken(ctx.tokens, {
    client,
    sub: session.userId,
    scope,
    sid: session.id,
    aud,
    jkt,
  })
  ctx.metrics.tokensIssued.record('access_token', issued.format)
  const response: TokenResponse = {
    access_token: issued.token,
    token_type: issued.tokenType,
    expires_in: issued.expiresIn,
  }
  if (scope.length > 0) response.scope = scope.join(' ')
  if (refreshToken !== null) {
    response.refresh_token = refreshToken
    ctx.metrics.tokensIssued.record('refresh_token', 'opaque')
  }
  if (scopeList(session.scope).includes('openid')) {
    const profile =
      first?.profile ?? (session.claims.length > 0 ? await ctx.store.getUser(session.userId) : null)
    response.id_token = await issueIdToken(ctx.keys, {
      issuer: ctx.config.issuer,
      client,
      sub: session.userId,
      sid: session.id,
      authTime: session.authTime,
      nonce: first?.nonce,
      accessToken: issued.token,
      scope,
      claims: session.claims,
      profile,
      now: issued.claims.iat,
      lifetime: ctx.config.idTokenSeconds,
    })
  }
  return response
}
