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
 *
 * DPoP (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is accepted only as `Authorization: DPoP
 * <token>` with a `DPoP` proof of that key for this request (`htm`, `htu` the userinfo URL under the
 * issuer, `ath` the token's hash), its `jti` spent once on every node; a bound token sent as a bearer
 * token (header or form) → 401 `invalid_token`, a missing, invalid, replayed or other-key proof → 401
 * `invalid_dpop_proof`, each with a DPoP challenge (§7.1) naming the algorithms accepted. An unbound
 * token sent with the DPoP scheme is refused as `invalid_token` too (as the verifier SDK does).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError } from '../../errors.js'
import { profileClaims } from '../../profile.js'
import { resolveAccessToken } from '../../tokens/access_token.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'
import { applyCors, registerPreflight } from '../cors.js'
import { sendOAuthError } from '../errors.js'
import { BEARER_AUTHORIZATION } from '../headers.js'
import { scopeList } from '../scope.js'
import { acceptProof, DPOP_SIGNING_ALGS, proofHeader } from '../dpop.js'

export const USERINFO_PATH = '/userinfo'

const REALM = 'latchkey'

// RFC 9449 §7.1: the token68 syntax of `BEARER_AUTHORIZATION` under the DPoP scheme.
const DPOP = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i

type Scheme = 'Bearer' | 'DPoP'

/** A refusal about the sender constraint: its challenge is a DPoP one (RFC 9449 §7.1). */
class DpopRefusal extends OAuthError {}

const dpopRefusal = (code: 'invalid_token' | 'invalid_dpop_proof', description: string) =>
  new DpopRefusal(code, description, { status: 401 })

/** No token at all: RFC 6750 §3.1 says the challenge then carries no error code. */
class MissingToken extends OAuthError {
  constructor() {
    super('invalid_request', 'an access token is required', { status: 401 })
  }
}

/** The access token of the request and its scheme, from the header or (POST) the form body. */
function readToken(request: FastifyRequest): { token: string; scheme: Scheme } {
  const authorization = request.headers.authorization
  const params = (request.body ?? {}) as FormParams
  const inBody = params.access_token
  let inHeader: string | undefined
  let scheme: Scheme = 'Bearer'
  if (authorization !== undefined && /^bearer(\s|$)/i.test(authorization)) {
    const m = BEARER_AUTHORIZATION.exec(authorization)
    if (!m) throw new OAuthError('invalid_request', 'malformed Bearer authorization header')
    inHeader = m[1]!
  } else if (authorization !== undefined && /^dpop(\s|$)/i.test(authorization)) {
    const m = DPOP.exec(authorization)
    if (!m) throw new OAuthError('invalid_request', 'malformed DPoP authorization header')
    inHeader = m[1]!
    scheme = 'DPoP'
  }
  // RFC 6750 §3.1: more than one method of presenting a token is invalid_request.
  if (inHeader !== undefined && inBody !== undefined) {
    throw new OAuthError('invalid_request', 'the access token is sent more than once')
  }
  const token = inHeader ?? inBody
  if (token === undefined || token === '') throw new MissingToken()
  return { token, scheme }
}

/**
 * Sends `err` with its challenge: Bearer (RFC 6750 §3), or DPoP (RFC 9449 §7.1) for a request that
 * used the DPoP scheme and for a refusal about the sender constraint.
 */
function refuse(reply: FastifyReply, err: OAuthError, scheme: Scheme): FastifyReply {
  const dpop = scheme === 'DPoP' || err instanceof DpopRefusal
  let challenge = dpop
    ? `DPoP realm="${REALM}", algs="${DPOP_SIGNING_ALGS.join(' ')}"`
    : `Bearer realm="${REALM}"`
  if (!(err instanceof MissingToken)) {
    challenge += `, error="${err.code}", error_description="${err.description}"`
    if (err.code === 'insufficient_scope') challenge += ', scope="openid"'
  }
  reply.header('www-authenticate', challenge)
  return sendOAuthError(reply, err)
}

/**
 * RFC 9449 §7: a bound token comes with the DPoP scheme and a proof of its key for this request; an
 * unbound one with the Bearer scheme. Throws `DpopRefusal`.
 */
async function checkSender(
  request: FastifyRequest,
  token: string,
  scheme: Scheme,
  jkt: string | undefined,
  ctx: ServerContext,
): Promise<void> {
  if (jkt === undefined) {
    if (scheme === 'DPoP')
      throw dpopRefusal('invalid_token', 'the access token is not bound to a key')
    return
  }
  if (scheme !== 'DPoP') {
    throw dpopRefusal(
      'invalid_token',
      'the access token is bound to a key: send it with the DPoP scheme',
    )
  }
  const proof = proofHeader(request)
  if (proof === undefined) throw dpopRefusal('invalid_dpop_proof', 'a DPoP proof is required')
  let proven: string
  try {
    const accepted = await acceptProof(ctx, proof, {
      htm: request.method,
      htu: ctx.config.issuer + USERINFO_PATH,
      accessToken: token,
      status: 401,
    })
    proven = accepted.jkt
  } catch (err) {
    if (err instanceof OAuthError && err.status < 500) {
      throw dpopRefusal('invalid_dpop_proof', err.description)
    }
    throw err
  }
  if (proven !== jkt)
    throw dpopRefusal(
      'invalid_dpop_proof',
      'the DPoP proof is not by the key the token is bound to',
    )
}

/** The claims about the token's user (OIDC Core §5.3.2). Throws `OAuthError` to refuse. */
async function userinfo(
  request: FastifyRequest,
  token: string,
  scheme: Scheme,
  ctx: ServerContext,
): Promise<Record<string, unknown>> {
  const live = await resolveAccessToken(ctx.tokens, token)
  if (!live) throw new OAuthError('invalid_token', 'the access token is not active')
  const { claims } = live
  await checkSender(request, token, scheme, claims.cnf?.jkt, ctx)
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
      let scheme: Scheme = 'Bearer'
      try {
        const presented = readToken(request)
        scheme = presented.scheme
        answer = await userinfo(request, presented.token, scheme, ctx)
      } catch (err) {
        if (err instanceof OAuthError && err.status < 500) return refuse(reply, err, scheme)
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
