/**
 * What the authorization_code and refresh_token grants share: starting a session's token lineage and
 * answering with an access token bound to the session (`sid`) plus its current refresh token.
 */
import { randomBytes } from 'node:crypto'
import type { ClientRecord, RefreshTokenRecord, SessionRecord } from '../../store/types.js'
import { issueAccessToken } from '../../tokens/access_token.js'
import { generateOpaqueToken } from '../../tokens/opaque.js'
import type { ServerContext } from '../context.js'
import type { TokenResponse } from './types.js'

/** A new session id: 128 random bits. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url')
}

/** A new refresh token of `session`, living as long as the session may. */
export function newRefreshToken(
  session: Pick<SessionRecord, 'id' | 'userId' | 'clientId' | 'scope' | 'expiresAt'>,
  now: number,
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
    },
  }
}

/**
 * The token response for a session: a fresh access token and, when there is one, the refresh token.
 * `aud` is the resource asked for (RFC 8707), when not the client's default.
 */
export async function sessionTokenResponse(
  ctx: ServerContext,
  client: ClientRecord,
  session: Pick<SessionRecord, 'id' | 'userId'>,
  scope: string[],
  refreshToken: string | null,
  aud?: string,
): Promise<TokenResponse> {
  const issued = await issueAccessToken(ctx.tokens, {
    client,
    sub: session.userId,
    scope,
    sid: session.id,
    aud,
  })
  ctx.metrics.tokensIssued.record('access_token', issued.format)
  const response: TokenResponse = {
    access_token: issued.token,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
  }
  if (scope.length > 0) response.scope = scope.join(' ')
  if (refreshToken !== null) {
    response.refresh_token = refreshToken
    ctx.metrics.tokensIssued.record('refresh_token', 'opaque')
  }
  return response
}
