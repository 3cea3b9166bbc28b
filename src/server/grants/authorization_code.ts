/**
 * `grant_type=authorization_code` (RFC 6749 §4.1.3) with PKCE S256 (RFC 7636 §4.6): redeem the code
 * once, check it was issued to this client for this redirect URI and that the verifier matches, start a
 * session, answer with an access token and the session's first refresh token, and with an ID token
 * when the scope has `openid` (OpenID Connect Core §3.1.3.3: the code's `nonce`, `auth_time` and
 * requested claims). `resource` (RFC 8707) is read from the token request only (`./resource.ts`),
 * checked before the code is spent, as the DPoP proof is (at the token endpoint, RFC 9449 §5): the access
 * token is bound to its key, and so is a public client's refresh token.
 */
import { OAuthError } from '../../errors.js'
import type { SessionRecord } from '../../store/types.js'
import { hashOpaqueToken, looksOpaque } from '../../tokens/opaque.js'
import { checkPkceS256, isCodeVerifier } from '../../tokens/refresh.js'
import { endSession } from '../../tokens/session_revocation.js'
import type { ServerContext } from '../context.js'
import { scopeList } from '../scope.js'
import { requestedAudience } from './resource.js'
import { newRefreshToken, newSessionId, sessionTokenResponse } from './sessions.js'
import type { Grant, GrantRequest, TokenResponse } from './types.js'

const invalidGrant = (description: string): OAuthError =>
  new OAuthError('invalid_grant', description)

async function redeem(
  { params, client, method, dpop, address }: GrantRequest,
  ctx: ServerContext,
): Promise<TokenResponse> {
  const { code, redirect_uri: redirectUri, code_verifier: verifier } = params
  if (!code) throw new OAuthError('invalid_request', 'code is required')
  if (!redirectUri) throw new OAuthError('invalid_request', 'redirect_uri is required')
  // RFC 9700 §4.8: a verifier is required, and a code issued without a challenge cannot exist here.
  if (!verifier) throw new OAuthError('invalid_request', 'code_verifier is required')
  if (!isCodeVerifier(verifier))
    throw new OAuthError('invalid_request', 'code_verifier is malformed')
  if (!looksOpaque(code)) throw invalidGrant('the code is invalid, expired or already used')
  const aud = requestedAudience(params, client, ctx.tokens.defaultAudience)

  const now = ctx.clock()
  const codeHash = hashOpaqueToken(code)
  const redeemed = await ctx.store.redeemCode(codeHash, now)
  if (!redeemed) throw invalidGrant('the code is invalid, expired or already used')
  if (redeemed.outcome === 'replayed') {
    // RFC 6749 §4.1.2: a code is single use; on reuse, revoke what it issued.
    ctx.audit.record(
      {
        kind: 'code.replayed',
        subject: redeemed.code.clientId,
        details: {
          presented_by: client.clientId,
          user_id: redeemed.code.userId,
          session_id: redeemed.code.sessionId,
        },
      },
      address,
    )
    if (redeemed.code.sessionId) {
      if (await endSession(ctx.store, redeemed.code.sessionId, now)) {
        ctx.metrics.tokensRevoked.inc({ kind: 'sid' })
        ctx.feed.poke()
      }
    }
    throw invalidGrant('the code is invalid, expired or already used')
  }
  const record = redeemed.code
  // The code is spent whatever happens next: a code presented wrongly is not tried again.
  if (record.clientId !== client.clientId)
    throw invalidGrant('the code was issued to another client')
  if (record.redirectUri !== redirectUri) throw invalidGrant('redirect_uri does not match the code')
  if (!checkPkceS256(verifier, record.codeChallenge))
    throw invalidGrant('code_verifier does not match')
  // RFC 9449 §10: a code asked for with `dpop_jkt` is redeemed only with a proof of that key.
  if (record.dpopJkt !== null && dpop?.jkt !== record.dpopJkt) {
    throw invalidGrant('the code is bound to a DPoP key (dpop_jkt) this request does not prove')
  }
  const user = await ctx.store.getUser(record.userId)
  if (!user) throw invalidGrant('the user no longer exists')
  // A code approved by a login that has since ended (signed out everywhere, session revoked) is dead.
  if (record.loginHash !== null && !(await ctx.store.getLogin(record.loginHash, now))) {
    throw invalidGrant('the login that approved this code has ended')
  }

  const expiresAt = now + ctx.config.sessionMaxSeconds
  const session: SessionRecord = {
    id: newSessionId(),
    userId: user.id,
    clientId: client.clientId,
    scope: record.scope,
    createdAt: now,
    expiresAt,
    idleExpiresAt: Math.min(now + ctx.config.sessionIdleSeconds, expiresAt),
    revokedAt: null,
    loginHash: record.loginHash,
    authTime: record.authTime,
    claims: record.claims,
  }
  // RFC 9449 §5: a public client's refresh token is bound to the proof's key; a confidential client's
  // stays unbound (it authenticates each refresh).
  const refreshJkt = method === 'none' ? (dpop?.jkt ?? null) : null
  const refresh = client.grants.includes('refresh_token')
    ? newRefreshToken(session, now, refreshJkt)
    : null
  await ctx.store.createSession(session, refresh?.record ?? null, codeHash)
  const scope = scopeList(record.scope)
  return sessionTokenResponse(
    ctx,
    client,
    session,
    scope,
    refresh?.token ?? null,
    aud,
    { nonce: record.nonce, profile: user },
    dpop?.jkt,
  )
}

export const authorizationCode: Grant = {
  type: 'authorization_code',
  confidentialOnly: false,
  needsRedirectUri: true,
  handle: redeem,
}
