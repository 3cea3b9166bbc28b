/**
 * The token endpoint (RFC 6749 §3.2): authenticate the client, check it may use the grant type, hand
 * over to the grant. Every answer, success or error, carries `Cache-Control: no-store`.
 */
import type { FastifyInstance } from 'fastify'
import { OAuthError } from '../../errors.js'
import { authenticateClient } from '../client_auth.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'
import { authorizationCodeGrant } from '../grants/authorization_code.js'
import { clientCredentialsGrant } from '../grants/client_credentials.js'
import { refreshTokenGrant } from '../grants/refresh_token.js'
import type { GrantHandler } from '../grants/types.js'

export const TOKEN_PATH = '/token'

const grants: Partial<Record<string, GrantHandler>> = {
  authorization_code: authorizationCodeGrant,
  client_credentials: clientCredentialsGrant,
  refresh_token: refreshTokenGrant,
}

/** Grant types this server implements, for the metadata. */
export function supportedGrantTypes(): string[] {
  return Object.keys(grants)
}

export function registerTokenEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  app.post(TOKEN_PATH, async (request, reply) => {
    const params = (request.body ?? {}) as FormParams
    const { client, method } = await authenticateClient(request, params, ctx)
    const grantType = params.grant_type
    if (grantType === undefined || grantType === '') {
      throw new OAuthError('invalid_request', 'grant_type is required')
    }
    const grant = grants[grantType]
    if (!grant) throw new OAuthError('unsupported_grant_type', 'this grant type is not supported')
    if (!(client.grants as string[]).includes(grantType)) {
      throw new OAuthError('unauthorized_client', 'this client may not use this grant type')
    }
    if (method === 'none' && grantType === 'client_credentials') {
      // RFC 6749 §4.4: only confidential clients may use client_credentials.
      throw new OAuthError('unauthorized_client', 'a public client may not use this grant type')
    }
    const response = await grant(params, client, ctx)
    reply
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .header('x-content-type-options', 'nosniff')
    return response
  })
}
