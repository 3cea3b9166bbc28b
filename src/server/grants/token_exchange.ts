/**
 * `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a confidential client trades
 * a live access token of this server (the subject token) for one addressed to another API, for the same
 * subject, optionally on behalf of an actor (delegation, `act`, §4.1).
 *
 * - Subject and actor tokens are access tokens of this server, JWT or opaque
 *   (`…:token-type:access_token`; `…:token-type:jwt` for a JWT one). Any other type, a token that is
 *   not live (unknown, expired, revoked) or one this client may not exchange is `invalid_request`
 *   (§2.2.2: "the value of the error parameter MUST be the invalid_request error code").
 * - Who may exchange a subject token: one addressed to the default audience (the issuer) by any client
 *   holding this grant; one addressed to specific APIs only by one of them (its client id, or one of its
 *   `--audience`), so a token given to an API can be passed on by that API and no one else.
 * - The target: `audience` and/or `resource` (RFC 8707, an absolute URI), one value, which must be one of
 *   the client's `--exchange-audience`; without either, the first of them. Else `invalid_target`.
 * - The new token: the subject's `sub` and `sid` (ending the session ends it too), this client's
 *   `client_id` and format, the target as `aud`, a scope within the subject token's, and an `exp` no
 *   later than the subject token's. No refresh token.
 * - An actor token must have been issued to the exchanging client: its `sub` becomes `act.sub`, with the
 *   subject token's own `act` nested under it. The store does not keep `act`, so a delegated token is
 *   only issued to a client whose format is JWT.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693
 */
import { invalidTarget, OAuthError } from '../../errors.js'
import type { ClientRecord } from '../../store/types.js'
import {
  issueAccessToken,
  resolveAccessToken,
  type ActorClaim,
  type LiveAccessToken,
} from '../../tokens/access_token.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'
import { ADMIN_SCOPE, grantScope, scopeList } from '../scope.js'
import { resourceIndicator } from './resource.js'
import type { Grant, GrantRequest, TokenResponse } from './types.js'

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
/** RFC 8693 §3: the token types accepted and the one issued. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

const invalid = (description: string): OAuthError => new OAuthError('invalid_request', description)

/** The live access token named by `token` and `type` (RFC 8693 §2.1), or `invalid_request`. */
async function presented(
  ctx: ServerContext,
  role: 'subject' | 'actor',
  token: string | undefined,
  type: string | undefined,
): Promise<LiveAccessToken> {
  if (!token) throw invalid(`${role}_token is required`)
  if (!type) throw invalid(`${role}_token_type is required`)
  if (type !== ACCESS_TOKEN_TYPE && type !== JWT_TOKEN_TYPE) {
    throw invalid(`unsupported ${role}_token_type`)
  }
  const live = await resolveAccessToken(ctx.tokens, token)
  if (!live || (type === JWT_TOKEN_TYPE && live.format !== 'jwt')) {
    throw invalid(`the ${role} token is invalid, expired or revoked`)
  }
  return live
}

/**
 * DESIGN: a token for specific APIs is theirs to exchange; one for the issuer anyone's (with the grant).
 * A token bound to a key (RFC 9449 `cnf.jkt`) only by the APIs it names: they received it with its
 * proof; anyone else holding it may have stolen it, and must not trade it for an unbound one.
 */
function mayExchange(
  subject: LiveAccessToken,
  client: ClientRecord,
  defaultAudience: string,
): boolean {
  const auds = typeof subject.claims.aud === 'string' ? [subject.claims.aud] : subject.claims.aud
  if (subject.claims.cnf === undefined && auds.every((a) => a === defaultAudience)) return true
  return auds.some((a) => a === client.clientId || client.audiences.includes(a))
}

/** The one target: `audience` and/or `resource` (equal when both), among the client's exchange audiences. */
function target(params: FormParams, client: ClientRecord): string {
  const resource = resourceIndicator(params)
  const audience = params.audience
  if (audience === '') throw invalidTarget('audience is empty')
  if (audience !== undefined && resource !== undefined && audience !== resource) {
    throw invalidTarget('audience and resource name different targets')
  }
  const wanted = audience ?? resource ?? client.exchangeAudiences[0]
  if (wanted === undefined || !client.exchangeAudiences.includes(wanted)) {
    throw invalidTarget('this client may not exchange tokens for that audience')
  }
  return wanted
}

/** RFC 8693 §4.1: the actor, with whoever acted before it nested (the subject token's own `act`). */
function actClaim(subject: LiveAccessToken, actor: LiveAccessToken | null): ActorClaim | undefined {
  const prior = subject.claims.act as ActorClaim | undefined
  if (!actor) return prior
  return prior ? { sub: actor.claims.sub, act: prior } : { sub: actor.claims.sub }
}

async function exchange(
  { params, client, dpop }: GrantRequest,
  ctx: ServerContext,
): Promise<TokenResponse> {
  if (
    params.requested_token_type !== undefined &&
    params.requested_token_type !== ACCESS_TOKEN_TYPE
  ) {
    throw invalid('only access tokens are issued (requested_token_type)')
  }
  const aud = target(params, client)
  const subject = await presented(ctx, 'subject', params.subject_token, params.subject_token_type)
  if (!mayExchange(subject, client, ctx.tokens.defaultAudience)) {
    throw invalid('this client may not exchange the subject token')
  }
  let actor: LiveAccessToken | null = null
  if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
    actor = await presented(ctx, 'actor', params.actor_token, params.actor_token_type)
    if (actor.claims.client_id !== client.clientId) {
      throw invalid('the actor token was issued to another client')
    }
  }
  const act = actClaim(subject, actor)
  if (act && client.accessTokenFormat !== 'jwt') {
    throw invalid('a delegated token (act) needs a client whose access tokens are JWTs')
  }
  // The admin scope stays only with a client registered for it.
  const exchangeable = scopeList(subject.claims.scope ?? '').filter(
    (s) => s !== ADMIN_SCOPE || client.scopes.includes(ADMIN_SCOPE),
  )
  const scope = grantScope(params.scope, exchangeable, 'the subject token')
  const issued = await issueAccessToken(ctx.tokens, {
    client,
    sub: subject.claims.sub,
    scope,
    sid: subject.claims.sid ?? null,
    aud,
    act,
    notAfter: subject.claims.exp,
    jkt: dpop?.jkt,
  })
  ctx.metrics.tokensIssued.record('access_token', issued.format)
  const response: TokenResponse = {
    access_token: issued.token,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: issued.tokenType,
    expires_in: issued.expiresIn,
  }
  if (scope.length > 0) response.scope = scope.join(' ')
  return response
}

export const tokenExchange: Grant = {
  type: TOKEN_EXCHANGE,
  // RFC 8693 §2.1 leaves client authentication to the server: here only a client that proves itself.
  confidentialOnly: true,
  needsRedirectUri: false,
  handle: exchange,
}
