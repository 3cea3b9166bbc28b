/**
 * The phantom-token endpoint: an API gateway's sub-request (NGINX `auth_request`, Traefik
 * `forwardAuth`, Envoy `ext_authz` over HTTP) trades the caller's opaque access token for a short-lived
 * JWT (RFC 9068) addressed to the API behind the gateway. Clients hold only opaque tokens; the API
 * verifies a JWT locally (docs/GATEWAY.md).
 *
 * The request, whatever its method and path below `/phantom` (Envoy appends the caller's path):
 * - the gateway, a `--resource-server` client with an `--audience`, authenticated with its secret in
 *   headers of its own (the caller's `Authorization` is the token): `Latchkey-Gateway-Authorization:
 *   Basic …` (`client_secret_basic`, RFC 6749 §2.3.1), or `Latchkey-Gateway-Client-Id` and
 *   `Latchkey-Gateway-Client-Secret` as they are (`client_secret_post`'s parameters, for a gateway
 *   whose configuration cannot base64-encode, such as an NGINX template rendered by envsubst);
 * - `Authorization: Bearer <opaque>`: the caller's token, as the gateway forwards it.
 * Any body is ignored.
 *
 * The answers, in the terms a gateway understands (each one's own passes 2xx, 401 and 403 through):
 * - 200, empty, with `Authorization: Bearer <jwt>`: the value the gateway puts in the upstream
 *   request's `Authorization` in place of the opaque token. The JWT is RFC 9068 with the opaque
 *   token's `sub`, `client_id`, `scope`, `sid` and `jti` (revoking either id revokes both, and the
 *   revocation feed covers the JWT for the verifier SDK), `aud` the gateway's audience, `exp` at most
 *   the opaque token's and `PHANTOM_TTL_SECONDS` away;
 * - 401 with `WWW-Authenticate: Bearer …` (RFC 6750 §3), for the gateway to pass back: no token (no
 *   error code, §3.1), or `invalid_token` for a token that is not a live opaque access token of this
 *   server (unknown, expired, revoked, a refresh token, a JWT: the gateway takes opaque tokens only)
 *   or is addressed to another API;
 * - 502 with an RFC 6749 error body when the gateway itself is refused (wrong credentials, not a
 *   resource server, no audience, throttled): the caller sees a server error (NGINX turns any status
 *   other than 2xx, 401 and 403 into 500; Traefik and Envoy pass 502 on), never a 200 and never a
 *   401 that would blame its token. 503 when the store cannot answer.
 *
 * Every answer is `Cache-Control: no-store`: a gateway must not keep a JWT past a revocation.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError } from '../../errors.js'
import type { ClientRecord } from '../../store/types.js'
import { issueAccessToken, resolveAccessToken } from '../../tokens/access_token.js'
import type { AccessTokenClaims } from '../../tokens/jwt.js'
import { hashOpaqueToken, looksOpaque } from '../../tokens/opaque.js'
import { authenticateClient } from '../client_auth/index.js'
import type { ServerContext } from '../context.js'
import { sendOAuthError } from '../errors.js'
import type { FormParams } from '../form.js'

export const PHANTOM_PATH = '/phantom'

/** Where the gateway puts its own credentials: HTTP Basic (RFC 7617), or the id and secret as they are. */
export const GATEWAY_AUTHORIZATION_HEADER = 'latchkey-gateway-authorization'
export const GATEWAY_CLIENT_ID_HEADER = 'latchkey-gateway-client-id'
export const GATEWAY_CLIENT_SECRET_HEADER = 'latchkey-gateway-client-secret'

/** The longest life of a phantom JWT, seconds: the opaque token's own `exp` may cut it shorter. */
export const PHANTOM_TTL_SECONDS = 120

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/** RFC 6750 §2.1: `Bearer` (any case), one space, a b64token. */
const BEARER = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i

/** A 401 for the caller, with RFC 6750 §3's challenge. */
class Challenge extends Error {
  constructor(
    readonly error: 'invalid_token' | undefined,
    readonly description: string,
  ) {
    super(description)
  }
}

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`
}

function sendChallenge(reply: FastifyReply, realm: string, c: Challenge): FastifyReply {
  let header = `Bearer realm=${quoted(realm)}`
  if (c.error !== undefined) {
    header += `, error="${c.error}", error_description=${quoted(c.description)}`
  }
  reply.code(401).header('www-authenticate', header)
  return c.error === undefined
    ? reply.send()
    : reply.send({ error: c.error, error_description: c.description })
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return typeof value === 'string' ? value : undefined
}

/**
 * The request as client authentication reads it: the gateway's Basic header in `Authorization`'s
 * place, its id and secret headers as form parameters.
 */
function asGateway(request: FastifyRequest): { view: FastifyRequest; params: FormParams } {
  const headers = {
    ...request.headers,
    authorization: header(request, GATEWAY_AUTHORIZATION_HEADER),
  }
  const params: Record<string, string> = {}
  const id = header(request, GATEWAY_CLIENT_ID_HEADER)
  const secret = header(request, GATEWAY_CLIENT_SECRET_HEADER)
  if (id !== undefined) params.client_id = id
  if (secret !== undefined) params.client_secret = secret
  const view = Object.create(request, { headers: { value: headers } }) as FastifyRequest
  return { view, params }
}

/**
 * The gateway, authenticated: a resource server with an audience. Throws an `OAuthError` whose
 * status is 502 (or 503 when the service is busy) for anything else.
 */
async function authenticateGateway(
  request: FastifyRequest,
  ctx: ServerContext,
): Promise<ClientRecord> {
  let client: ClientRecord
  try {
    const { view, params } = asGateway(request)
    const authenticated = await authenticateClient(view, params, ctx)
    if (authenticated.method === 'none') {
      throw new OAuthError('invalid_client', 'client authentication failed')
    }
    client = authenticated.client
  } catch (err) {
    if (!(err instanceof OAuthError) || err.status === 503) throw err
    throw new OAuthError(err.code, `the gateway: ${err.description}`, {
      status: 502,
      retryAfter: err.retryAfter,
    })
  }
  if (!client.resourceServer) {
    throw new OAuthError('unauthorized_client', 'the gateway must be a --resource-server client', {
      status: 502,
    })
  }
  if (client.audiences.length === 0) {
    throw new OAuthError('invalid_client', 'the gateway client has no --audience', { status: 502 })
  }
  return client
}

/** The caller's opaque token; a `Challenge` when there is none or it is not one. */
function opaqueToken(authorization: string | undefined): string {
  if (authorization === undefined || !/^bearer /i.test(authorization)) {
    // RFC 6750 §3.1: no credentials, or another scheme: a challenge without an error code.
    throw new Challenge(undefined, 'a bearer token is required')
  }
  const token = BEARER.exec(authorization)?.[1]
  if (token === undefined) throw new Challenge('invalid_token', 'malformed bearer token')
  if (token.includes('.')) {
    throw new Challenge('invalid_token', 'the gateway takes opaque access tokens only')
  }
  if (!looksOpaque(token)) throw new Challenge('invalid_token', 'the access token is not active')
  return token
}

/**
 * The `aud` of the JWT for `gateway`: the opaque token's own when it is one of the gateway's
 * audiences, else the gateway's first. A token addressed to another API is refused: like a token
 * exchange (`grants/token_exchange.ts`), only one with the default audience (the issuer) may go to any.
 */
function audienceFor(claims: AccessTokenClaims, gateway: ClientRecord, ctx: ServerContext): string {
  const aud = claims.aud as string
  if (gateway.audiences.includes(aud)) return aud
  if (aud === ctx.tokens.defaultAudience || aud === gateway.clientId) return gateway.audiences[0]!
  throw new Challenge('invalid_token', 'the access token is not for this API')
}

type Result = 'minted' | 'cached' | 'refused' | 'gateway_refused'

/** The JWT standing for the live opaque token `token`; a `Challenge` when it is not one. */
async function phantomFor(
  token: string,
  gateway: ClientRecord,
  ctx: ServerContext,
  count: (result: Result) => void,
): Promise<string> {
  const hash = hashOpaqueToken(token)
  const live = await resolveAccessToken(ctx.tokens, token, hash)
  if (live === null || live.format !== 'opaque') {
    throw new Challenge('invalid_token', 'the access token is not active')
  }
  const { claims } = live
  const aud = audienceFor(claims, gateway, ctx)
  const now = ctx.clock()
  // The JWT shares the opaque token's jti: a revocation of that id (of the JWT) ends both.
  if (await ctx.store.isRevoked([{ kind: 'jti', value: claims.jti }], claims.iat, now)) {
    throw new Challenge('invalid_token', 'the access token is not active')
  }
  const signer = ctx.keys.signer(now)
  if (!signer) throw new Error('no active signing key')
  const cached = ctx.phantoms.get(hash, aud, signer.kid, now)
  if (cached !== undefined) {
    count('cached')
    return cached
  }
  // The client the opaque token was issued to: a deleted one's tokens are dead.
  const client = await ctx.clients.get(claims.client_id)
  if (client === null) throw new Challenge('invalid_token', 'the access token is not active')
  const issued = await issueAccessToken(ctx.tokens, {
    client: { ...client, accessTokenFormat: 'jwt', accessTokenTtl: PHANTOM_TTL_SECONDS },
    sub: claims.sub,
    scope: claims.scope ? claims.scope.split(' ') : [],
    sid: claims.sid ?? null,
    aud,
    notAfter: claims.exp,
    jti: claims.jti,
  })
  const covers = [
    `token:${hash}`,
    `jti:${claims.jti}`,
    `sub:${claims.sub}`,
    `client:${claims.client_id}`,
    `kid:${signer.kid}`,
  ]
  if (claims.sid) covers.push(`sid:${claims.sid}`)
  ctx.phantoms.set(hash, {
    jwt: issued.token,
    exp: issued.claims.exp,
    aud,
    kid: signer.kid,
    covers,
  })
  count('minted')
  return issued.token
}

export function registerPhantomEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  // Label-bound children, built once: no label hashing per request.
  const counters = new Map<Result, { inc(): void }>()
  for (const result of ['minted', 'cached', 'refused', 'gateway_refused'] as const) {
    counters.set(result, ctx.metrics.phantomTokens.labels({ result }))
  }
  const count = (result: Result): void => counters.get(result)!.inc()
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    reply
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .header('x-content-type-options', 'nosniff')
    let gateway: ClientRecord
    try {
      gateway = await authenticateGateway(request, ctx)
    } catch (err) {
      if (!(err instanceof OAuthError) || err.status !== 502) throw err
      count('gateway_refused')
      // Not logged as a server fault: a wrong credential is the caller's (the gateway's) mistake.
      return sendOAuthError(reply, err)
    }
    const realm = gateway.audiences[0]!
    try {
      const jwt = await phantomFor(opaqueToken(request.headers.authorization), gateway, ctx, count)
      return reply.code(200).header('authorization', `Bearer ${jwt}`).send()
    } catch (err) {
      if (!(err instanceof Challenge)) throw err
      count('refused')
      return sendChallenge(reply, realm, err)
    }
  }
  void app.register((scope, _options, done) => {
    // A gateway may forward the caller's method and Content-Type (Envoy does): any body is ignored
    // here, never parsed, so that no media type is refused.
    scope.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null, undefined))
    scope.route({ method: [...METHODS], url: PHANTOM_PATH, handler })
    scope.route({ method: [...METHODS], url: `${PHANTOM_PATH}/*`, handler })
    done()
  })
}
