/**
 * Token introspection (RFC 7662), as named steps: authenticate the caller, read the token, resolve it,
 * check the caller may see it, answer. Anything not live, or not the caller's to see, is exactly
 * `{"active": false}` (§2.2): the answer never tells why. Access tokens of either format and the
 * current refresh token of a live session can be introspected.
 *
 * Who may see what (§4 lets the answer depend on who asks):
 * - an access token: the client it was issued to, and any `--resource-server` client;
 * - a refresh token: only the client it was issued to. A resource server is never told that a refresh
 *   token is active, so an API that checks only `active` cannot take a 30-day refresh token for an
 *   access token. Its `token_type` is `N_A` (RFC 8693 §2.2.1, in the registry RFC 7662 §2.2 refers
 *   to: "not usable as an access token"), never `Bearer`;
 * - anything else (an authorization code, a login cookie, another client's token): inactive.
 * `token_type_hint` changes nothing: every kind is looked up whatever it says.
 *
 * A token bound to a key (RFC 9449 §6.2) is answered with `token_type: "DPoP"` and `cnf.jkt`: the
 * resource server checks the proof it received against it. No proof is asked of the caller here (the
 * resource server presents the token, not its holder).
 *
 * A client whose Accept header names `application/token-introspection+jwt` gets the same object signed,
 * as the `token_introspection` claim of a JWT for it (RFC 9701 §4, §5); any other gets plain JSON.
 * Errors are plain JSON either way (RFC 9701 §4: as RFC 7662 says).
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { OAuthError } from '../../errors.js'
import type { ClientRecord } from '../../store/types.js'
import { resolveAccessToken, type LiveAccessToken } from '../../tokens/access_token.js'
import {
  INTROSPECTION_JWT_MEDIA_TYPE,
  signIntrospectionResponse,
} from '../../tokens/introspection_response.js'
import { hashOpaqueToken, looksOpaque } from '../../tokens/opaque.js'
import { acceptsMediaType } from '../accept.js'
import { authenticateClient } from '../client_auth/index.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'

export const INTROSPECTION_PATH = '/introspect'

const INACTIVE = Object.freeze({ active: false })

function describe(live: LiveAccessToken): Record<string, unknown> {
  const c = live.claims
  const out: Record<string, unknown> = {
    active: true,
    client_id: c.client_id,
    // RFC 9449 §6.2: a bound token is a DPoP token, and its key's thumbprint is reported.
    token_type: c.cnf?.jkt !== undefined ? 'DPoP' : 'Bearer',
    exp: c.exp,
    iat: c.iat,
    sub: c.sub,
    aud: c.aud,
    iss: c.iss,
    jti: c.jti,
  }
  if (c.scope) out.scope = c.scope
  if (c.sid) out.sid = c.sid
  // RFC 8693 §4.1: a delegated token says who acts.
  if (c.act) out.act = c.act
  if (c.cnf?.jkt !== undefined) out.cnf = { jkt: c.cnf.jkt }
  return out
}

/** What the endpoint answers `client` about `token` (RFC 7662 §2.2), before any signing. */
async function introspect(
  token: string,
  client: ClientRecord,
  ctx: ServerContext,
): Promise<Readonly<Record<string, unknown>>> {
  // Hashed once: a token that is not a live access token is looked up again as a refresh token.
  const hash = looksOpaque(token) ? hashOpaqueToken(token) : undefined
  const live = await resolveAccessToken(ctx.tokens, token, hash)
  if (live) {
    // A resource server may introspect any token; any other client only its own.
    if (!client.resourceServer && live.claims.client_id !== client.clientId) return INACTIVE
    return describe(live)
  }
  if (hash === undefined) return INACTIVE
  const refresh = await ctx.store.getRefreshToken(hash, ctx.clock())
  // A rotated refresh token is no longer active: only the session's current one is.
  if (!refresh || refresh.usedAt !== null) return INACTIVE
  // Only to its own client: a resource server asks whether a bearer may call it, and a refresh
  // token never may.
  if (refresh.clientId !== client.clientId) return INACTIVE
  const out: Record<string, unknown> = {
    active: true,
    client_id: refresh.clientId,
    token_type: 'N_A',
    exp: refresh.expiresAt,
    iat: refresh.issuedAt,
    sub: refresh.userId,
    iss: ctx.config.issuer,
    sid: refresh.sessionId,
  }
  if (refresh.scope) out.scope = refresh.scope
  return out
}

/** RFC 9701 §5: the answer as a JWT for the client that asked, signed with the current key. */
async function sendSigned(
  reply: FastifyReply,
  answer: Readonly<Record<string, unknown>>,
  client: ClientRecord,
  ctx: ServerContext,
): Promise<FastifyReply> {
  const jwt = await signIntrospectionResponse(ctx.keys, {
    issuer: ctx.config.issuer,
    audience: client.clientId,
    now: ctx.clock(),
    response: answer,
  })
  return reply.type(INTROSPECTION_JWT_MEDIA_TYPE).send(jwt)
}

export function registerIntrospectionEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  app.post(INTROSPECTION_PATH, async (request, reply) => {
    const params = (request.body ?? {}) as FormParams
    const { client, method } = await authenticateClient(request, params, ctx)
    // RFC 7662 §2.1: the endpoint requires authorization; a public client has none to give.
    if (method === 'none') throw new OAuthError('invalid_client', 'client authentication failed')
    const token = params.token
    if (token === undefined || token === '')
      throw new OAuthError('invalid_request', 'token is required')
    reply
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      // The answer's format depends on Accept.
      .header('vary', 'accept')
    const answer = await introspect(token, client, ctx)
    if (acceptsMediaType(request.headers.accept, INTROSPECTION_JWT_MEDIA_TYPE)) {
      return sendSigned(reply, answer, client, ctx)
    }
    return answer
  })
}
