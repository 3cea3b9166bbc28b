/**
 * Token revocation (RFC 7009), as named steps: authenticate the caller, read the token, resolve it,
 * check the caller owns it, revoke durably, answer 200. An unknown, expired or foreign token gets the
 * same 200 (§2.2) and nothing changes. A revoked JWT's `jti` is kept in the revocation store until its
 * `exp`; a revoked opaque token is deleted, and its `jti` kept as well (the phantom JWTs a gateway
 * forwarded for it carry that id); a revoked refresh token ends its session. Every revocation enters
 * the revocation feed.
 */
import type { FastifyInstance } from 'fastify'
import { OAuthError } from '../../errors.js'
import { resolveAccessToken } from '../../tokens/access_token.js'
import { hashOpaqueToken, looksOpaque } from '../../tokens/opaque.js'
import { endSession } from '../../tokens/session_revocation.js'
import { authenticateClient } from '../client_auth/index.js'
import type { ServerContext } from '../context.js'
import { applyCors, registerPreflight } from '../cors.js'
import type { FormParams } from '../form.js'

export const REVOCATION_PATH = '/revoke'

export function registerRevocationEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  registerPreflight(app, ctx, REVOCATION_PATH, ['POST'])
  app.post(REVOCATION_PATH, async (request, reply) => {
    // Browser apps of public clients (CORS); nothing at all for a request without Origin.
    if (request.headers.origin !== undefined) await applyCors(ctx, request, reply)
    const params = (request.body ?? {}) as FormParams
    const { client } = await authenticateClient(request, params, ctx)
    const token = params.token
    if (token === undefined || token === '')
      throw new OAuthError('invalid_request', 'token is required')
    // token_type_hint is only a hint (§2.1): every kind of token is looked up whatever it says.
    reply
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .header('x-content-type-options', 'nosniff')
    const now = ctx.clock()
    // Hashed once: a token that is not a live access token is looked up again as a refresh token.
    const hash = looksOpaque(token) ? hashOpaqueToken(token) : undefined
    const live = await resolveAccessToken(ctx.tokens, token, hash)
    if (!live) {
      // RFC 7009 §2.1: revoking a refresh token ends its grant: here, the whole session.
      const refresh = hash === undefined ? null : await ctx.store.getRefreshToken(hash, now)
      if (refresh && refresh.clientId === client.clientId) {
        if (await endSession(ctx.store, refresh.sessionId, now)) {
          ctx.metrics.tokensRevoked.inc({ kind: 'sid' })
          ctx.feed.poke()
        }
      }
      return reply.code(200).send()
    }
    if (live.claims.client_id !== client.clientId) return reply.code(200).send()
    const event = {
      clientId: client.clientId,
      createdAt: now,
      expiresAt: live.claims.exp,
    }
    if (live.hash !== undefined) {
      await ctx.store.revokeToken(live.hash, { ...event, kind: 'token', value: live.hash })
      // A phantom JWT minted for it (endpoints/phantom.ts) carries its jti: resource servers
      // following the feed learn of that id too, and refuse the JWT.
      await ctx.store.appendRevocation({ ...event, kind: 'jti', value: live.claims.jti })
      ctx.metrics.tokensRevoked.inc({ kind: 'token' })
    } else {
      await ctx.store.appendRevocation({ ...event, kind: 'jti', value: live.claims.jti })
      ctx.metrics.tokensRevoked.inc({ kind: 'jti' })
    }
    // Resource servers following the feed hear of it now rather than at the next poll.
    ctx.feed.poke()
    return reply.code(200).send()
  })
}
