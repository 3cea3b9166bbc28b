/**
 * `grant_type=client_credentials` (RFC 6749 §4.4): a client's own access token. The requested scope
 * narrows the client's registered scopes; `sub` is the client id (RFC 9068 §2.2).
 */
import type { ClientRecord } from '../../store/types.js'
import { issueAccessToken } from '../../tokens/access_token.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'
import { grantScope } from '../scope.js'
import type { TokenResponse } from './types.js'

export async function clientCredentialsGrant(
  params: FormParams,
  client: ClientRecord,
  ctx: ServerContext,
): Promise<TokenResponse> {
  const scope = grantScope(params.scope, client.scopes)
  const issued = await issueAccessToken(ctx.tokens, { client, sub: client.clientId, scope })
  ctx.metrics.tokensIssued.record('access_token', issued.format)
  const response: TokenResponse = {
    access_token: issued.token,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
  }
  if (scope.length > 0) response.scope = scope.join(' ')
  return response
}
