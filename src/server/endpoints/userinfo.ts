/**
 * The userinfo endpoint (OpenID Connect Core §5.3), as named steps: read the bearer token, resolve
 * it, check it speaks for a user with the `openid` scope, answer with the claims its scopes release
 * (§5.4: `sub` always; `profile`: name, given_name, family_name; `email`: email, email_verified).
 *
 * The token comes in the Authorization header (RFC 6750 §2.1) or, on POST, as the form parameter
 * `access_token` (§2.2); never in the query (§2.3, which OIDC Core §5.3.1 does not ask for). Access
 * tokens of either format are accepted whatever their `aud`: the userinfo endpoint is this
 * server's own resource.
 *
 * Refusals carry a Bearer challenge (RFC 6750 §3): no token → 401 without an error code; an
 * unknown, expired or revoked token, or one whose user no longer exists → 401 `invalid_token`; a
 * live token that is not a user's (client_credentials: its `sub` is a client) or lacks `openid` →
 * `insufficient_scope` with `scope="openid"`, also as a 401: Latchkey's contract is that every
 * userinfo refusal is a 401 with a challenge (RFC 6750 §3.1 suggests 403, a SHOULD);
 * a token sent twice or a malformed header → 400 `invalid_request`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError } from '../../errors.js'
import { profileClaims } from '../../profile.js'
import { resolveAccessToken } from '../../tokens/access_token.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'
import { applyCors, registerPreflight } from '../cors.js'
import { sendOAuthError } from '../errors.js'
import { scopeList } from '../scope.js'

export const USERINFO_PATH = '/userinfo'

const REALM = 'latchkey'

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

/** No token at all: RFC 6750 §3.1 says the challenge then carries no error code. */
class MissingToken extends OAuthError {
  constructor() {
    super('invalid_request', 'an access token is required', { status: 401 })
  }
}

/** The bearer token of the request, from the header or (POST) the form body. */
function readToken(request: FastifyRequest): string {
  const authorization = request.headers.authorization
  const params = (request.body ?? {}) as FormParams
  const inBody = params.access_token
  let inHeader: string | undefined
  if (authorization !== undefined && /^bearer(\s|$)/i.test(authorization)) {
    const m = BEARER.exec(authorization)
    if (!m) throw new OAuthError('invalid_request', 'malformed Bearer authorization header')
    inHeader = m[1]!
  }
  // RFC 6750 §3.1: more than one method of presenting a token is invalid_request.
  if (inHeader !== undefined && inBody !== undefined) {
    throw new OAuthError('invalid_request', 'the access token is sent more than once')
  }
  const token = inHeader ?? inBody
  if (token === undefined || token === '') throw new MissingToken()
  return token
}

/** Sends `err` with its Bearer challenge (RFC 6750 §3). */
function refuse(reply: FastifyReply, err: OAuthError): FastifyReply {
  let challenge = `Bearer realm="${REALM}"`
  if (!(err instanceof MissingToken)) {
    challenge += `, error="${err.code}", error_description="${err.description}"`
    if (err.code === 'insufficient_scope') challenge += ', scope="openid"'
  }
  reply.header('www-authenticate', challenge)
  return sendOAuthError(reply, err)
}

/** The claims about the token's user (OIDC Core §5.3.2). Throws `OAuthError` to refuse. */
async function userinfo(token: string, ctx: ServerContext): Promise<Record<string, unknown>> {
  const live = await resolveAccessToken(ctx.tokens, token)
  if (!live) throw new OAuthError('invalid_token', 'the access token is not active')
  const { claims } = live
  const scopes = scopeList(claims.scope ?? '')
  // A user's token belongs to a session (`sid`), kept by a token exchanged from it; a client's
  // own token (client_credentials) has none: its `sub` is the client.
  if (!claims.sid || !scopes.includes('openid')) {
    throw new OAuthError(
      'insufficient_scope',
      'the access token was not issued with scope openid',
      {
        status: 401,
      },
    )
  }
  const user = await ctx.store.getUser(claims.sub)
  // Deleting a user revokes their tokens; this covers the moment before the event is seen.
  if (!user) throw new OAuthError('invalid_token', 'the access token is not active')
  return { sub: user.id, ...profileClaims(user, scopes) }
}

export function registerUserinfoEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  // OIDC Core §5.3.1: GET and POST both; browser apps call it too (CORS, `../cors.ts`).
  registerPreflight(app, ctx, USERINFO_PATH, ['GET', 'POST'])
  app.route({
    method: ['GET', 'POST'],
    url: USERINFO_PATH,
    handler: async (request, reply) => {
      if (request.headers.origin !== undefined) await applyCors(ctx, request, reply)
      let answer: Record<string, unknown>
      try {
        answer = await userinfo(readToken(request), ctx)
      } catch (err) {
        if (err instanceof OAuthError && err.status < 500) return refuse(reply, err)
        throw err
      }
      return reply
        .header('cache-control', 'no-store')
        .header('pragma', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .send(answer)
    },
  })
}
