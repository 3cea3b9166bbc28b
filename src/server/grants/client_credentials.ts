/**
 * `grant_type=client_credentials` (RFC 6749 §4.4): a client's own access token. The requested scope
 * narrows the client's registered scopes; `sub` is the client id (RFC 9068 §2.2); `resource` picks the
 * `aud` among the client's audiences (RFC 8707, `./resource.ts`).
 */
import { issueAccessToken } from '../../tokens/access_token.js'
import type { ServerContext } from '../context.js'
import { grantScope } from '../scope.js'
import { requestedAudience } from './resource.js'
import type { Grant, GrantRequest, TokenResponse } from './types.js'

async function issue(
  { params, client, dpop }: GrantRequest,
  ctx: ServerContext,
): Promise<TokenResponse> {
  const aud = requestedAudience(params, client, ctx.tokens.defaultAudience)
  const scope = grantScope(params.scope, client.scopes)
  const issued = await issueAccessToken(ctx.tokens, {
    client,
    sub: client.clientId,
    scope,
    aud,
    jkt: dpop?.jkt,
  })
  ctx.metrics.tokensIssued.record('access_token', issued.format)
  const response: TokenResponse = {
    access_token: issued.token,
    token_type: issued.tokenType,
    expires_in: issued.expiresIn,
  }
  if (scope.length > 0) response.scope = scope.join(' ')
  return response
}

export const clientCredentials: Grant = {
  type: 'client_credentials',
  // RFC 6749 §4.4: only confidential clients.
  confidentialOnly: true,
  needsRedirectUri: false,
  handle: issue,
}
