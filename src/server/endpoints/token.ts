/**
 * The token endpoint (RFC 6749 §3.2): authenticate the client, find the grant (`../grants/index.ts`),
 * check the client was given it and may use it, check a DPoP proof if one came (`../dpop.ts`, RFC 9449
 * §5: the access token is then bound to its key and typed `DPoP`), hand over. Every answer, success
 * or error, carries `Cache-Control: no-store`.
 */
import type { FastifyInstance } from 'fastify'
import { OAuthError } from '../../errors.js'
import { authenticateClient } from '../client_auth/index.js'
import { tokenRequestProof } from '../dpop.js'
import type { ServerContext } from '../context.js'
import { applyCors, registerPreflight } from '../cors.js'
import type { FormParams } from '../form.js'
import { findGrant } from '../grants/index.js'

export const TOKEN_PATH = '/token'

export function registerTokenEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  registerPreflight(app, ctx, TOKEN_PATH, ['POST'])
  app.post(TOKEN_PATH, async (request, reply) => {
    // Browser apps of public clients (CORS); nothing at all for a request without Origin.
    if (request.headers.origin !== undefined) await applyCors(ctx, request, reply)
    const params = (request.body ?? {}) as FormParams
    const { client, method } = await authenticateClient(request, params, ctx)
    const grantType = params.grant_type
    if (grantType === undefined || grantType === '') {
      throw new OAuthError('invalid_request', 'grant_type is required')
    }
    const grant = findGrant(grantType)
    if (!grant) throw new OAuthError('unsupported_grant_type', 'this grant type is not supported')
    if (!client.grants.includes(grantType)) {
      throw new OAuthError('unauthorized_client', 'this client may not use this grant type')
    }
    if (method === 'none' && grant.confidentialOnly) {
      throw new OAuthError('unauthorized_client', 'a public client may not use this grant type')
    }
    // RFC 9449 §5: the proof is checked (and its jti spent) before the grant is: a bad proof never
    // consumes a code or rotates a refresh token.
    const dpop = await tokenRequestProof(
      request,
      reply,
      client,
      ctx.config.issuer + TOKEN_PATH,
      ctx,
    )
    const response = await grant.handle({ params, client, method, dpop, address: request.ip }, ctx)
    reply
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .header('x-content-type-options', 'nosniff')
    return response
  })
}
