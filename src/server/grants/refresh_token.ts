/**
 * `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2):
 * every use exchanges the token for a successor through one conditional update, so of concurrent
 * refreshes exactly one lineage survives. A rotated token presented again inside the grace window gets
 * the successor already issued (a client's duplicate request); past it, the whole session ends.
 * `resource` picks the new access token's `aud` among the client's audiences (RFC 8707 §2.2).
 *
 * A refresh token bound to a key (a public client's, issued with a DPoP proof: RFC 9449 §5) is used only
 * with a proof of that key; without one, or with another key, it is `invalid_grant` (the grant is bound
 * to a key the request does not prove; the proof itself may be valid), and nothing happens to it: not
 * even a reuse ends its session. Its successors are bound to the same key.
 */
import { OAuthError } from '../../errors.js'
import type { ClientRecord, RefreshTokenRecord } from '../../store/types.js'
import { hashOpaqueToken, looksOpaque } from '../../tokens/opaque.js'
import { openSuccessor, sealSuccessor } from '../../tokens/refresh.js'
import { endSession } from '../../tokens/session_revocation.js'
import type { ServerContext } from '../context.js'
import { ADMIN_SCOPE, grantScope, scopeForUser, scopeList } from '../scope.js'
import { requestedAudience } from './resource.js'
import { newRefreshToken, sessionTokenResponse } from './sessions.js'
import type { Grant, GrantRequest, TokenResponse } from './types.js'

const invalidGrant = (): OAuthError =>
  new OAuthError('invalid_grant', 'the refresh token is invalid, expired or revoked')

/** A rotated token presented again: the same successor inside the grace window, else end the session. */
async function reused(
  ctx: ServerContext,
  client: ClientRecord,
  token: string,
  previous: RefreshTokenRecord,
  scope: string[],
  now: number,
  aud: string | undefined,
  jkt: string | undefined,
  address: string,
): Promise<TokenResponse> {
  const successor =
    previous.successorSealed !== null ? openSuccessor(token, previous.successorSealed) : null
  const usedAt = previous.usedAt ?? 0
  if (successor !== null && ctx.preciseClock() - usedAt <= ctx.config.refreshGraceSeconds) {
    const session = await ctx.store.getSession(previous.sessionId)
    if (session && session.revokedAt === null) {
      return sessionTokenResponse(ctx, client, session, scope, successor, aud, undefined, jkt)
    }
  }
  // RFC 9700 §4.14.2: reuse of a rotated refresh token ends the session, newest token included.
  ctx.audit.record(
    {
      kind: 'refresh_token.reused',
      subject: client.clientId,
      details: { session_id: previous.sessionId, user_id: previous.userId },
    },
    address,
  )
  if (await endSession(ctx.store, previous.sessionId, now)) {
    ctx.metrics.tokensRevoked.inc({ kind: 'sid' })
    ctx.feed.poke()
    ctx.logger.warn(
      { sid: previous.sessionId, client_id: client.clientId },
      'refresh token reuse: session ended',
    )
  }
  throw invalidGrant()
}

async function rotate(
  { params, client, dpop, address }: GrantRequest,
  ctx: ServerContext,
): Promise<TokenResponse> {
  const token = params.refresh_token
  if (!token) throw new OAuthError('invalid_request', 'refresh_token is required')
  if (!looksOpaque(token)) throw invalidGrant()
  const aud = requestedAudience(params, client, ctx.tokens.defaultAudience)
  const now = ctx.clock()
  const hash = hashOpaqueToken(token)
  const current = await ctx.store.getRefreshToken(hash, now)
  // A token bound to another client is refused and left alone (RFC 6749 §10.4).
  if (!current || current.clientId !== client.clientId) throw invalidGrant()
  if (current.jkt !== null && current.jkt !== dpop?.jkt) {
    throw new OAuthError(
      'invalid_grant',
      'the refresh token is bound to a DPoP key: send a proof of that key',
    )
  }
  const jkt = dpop?.jkt
  // RFC 6749 §6: the scope may narrow what was granted, never widen it.
  const granted = grantScope(params.scope, scopeList(current.scope), 'the original grant')
  // The admin role taken away since the login: the admin scope goes at the next refresh.
  const scope = granted.includes(ADMIN_SCOPE)
    ? scopeForUser(granted, await ctx.store.getUser(current.userId))
    : granted
  if (current.usedAt !== null)
    return reused(ctx, client, token, current, scope, now, aud, jkt, address)

  const session = await ctx.store.getSession(current.sessionId)
  if (!session) throw invalidGrant()
  const next = newRefreshToken(session, now, current.jkt)
  const outcome = await ctx.store.rotateRefreshToken(
    hash,
    next.record,
    sealSuccessor(token, next.token),
    Math.min(now + ctx.config.sessionIdleSeconds, session.expiresAt),
    ctx.preciseClock(),
  )
  switch (outcome.outcome) {
    case 'rotated':
      return sessionTokenResponse(ctx, client, session, scope, next.token, aud, undefined, jkt)
    case 'reused':
      return reused(ctx, client, token, outcome.previous, scope, now, aud, jkt, address)
    case 'invalid':
      throw invalidGrant()
  }
}

export const refreshToken: Grant = {
  type: 'refresh_token',
  confidentialOnly: false,
  needsRedirectUri: false,
  handle: rotate,
}
