/**
 * Authorization server metadata (RFC 8414 §3), built once: everything a client or resource server
 * needs to find the other endpoints. Every `*_supported` list says what the endpoints really accept:
 * a test (test/e2e/metadata_truth.test.ts) tries each listed value and the usual unlisted ones.
 */
import type { FastifyInstance } from 'fastify'
import { SIGNING_ALGS } from '../../store/types.js'
import type { ServerContext } from '../context.js'
import { issuerPath, METADATA_PATH } from '../issuer.js'
import { applyCors, registerPreflight } from '../cors.js'
import { AUTHORIZE_PATH } from './authorize.js'
import { FEED_PATH } from './feed.js'
import { INTROSPECTION_PATH } from './introspection.js'
import { JWKS_PATH } from './jwks.js'
import { PAR_PATH } from './par.js'
import { REVOCATION_PATH } from './revocation.js'
import { allMethods, provingMethods } from '../client_auth/index.js'
import { ASSERTION_SIGNING_ALGS } from '../client_auth/private_key_jwt.js'
import { GRANT_TYPES } from '../grants/index.js'
import { PHANTOM_PATH } from './phantom.js'
import { TOKEN_PATH } from './token.js'
import { USERINFO_PATH } from './userinfo.js'

export function buildMetadata(ctx: ServerContext): Record<string, unknown> {
  const base = ctx.config.issuer
  return {
    issuer: base,
    authorization_endpoint: base + AUTHORIZE_PATH,
    token_endpoint: base + TOKEN_PATH,
    jwks_uri: base + JWKS_PATH,
    introspection_endpoint: base + INTROSPECTION_PATH,
    revocation_endpoint: base + REVOCATION_PATH,
    // OpenID Connect Core §5.3 (registered for RFC 8414 too, §2).
    userinfo_endpoint: base + USERINFO_PATH,
    grant_types_supported: GRANT_TYPES,
    response_types_supported: ['code'],
    // RFC 8414 §2: omitted, this would mean ["query", "fragment"]; the code always comes in the query.
    response_modes_supported: ['query'],
    // RFC 9700 §2.1.1: PKCE required, S256 only.
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: authorization responses carry `iss`.
    authorization_response_iss_parameter_supported: true,
    // Public clients (`none`) may use the token and revocation endpoints; introspection requires
    // authentication (RFC 7662 §2.1).
    token_endpoint_auth_methods_supported: allMethods(),
    introspection_endpoint_auth_methods_supported: provingMethods(),
    revocation_endpoint_auth_methods_supported: allMethods(),
    // RFC 8414 §2: what a `private_key_jwt` assertion may be signed with, at each endpoint taking it.
    // Asymmetric only: never `none`, never HMAC.
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    // RFC 9701 §6: a JWT introspection response is signed with the key signing access tokens at that
    // moment, and `keys rotate --alg` (or the signing-alg setting) can make that key any of these.
    introspection_signing_alg_values_supported: [...SIGNING_ALGS],
    // RFC 9126 §5: pushed requests are accepted from every client, required server-wide from none
    // (a client registered with --require-par must push; RFC 9126 §6).
    pushed_authorization_request_endpoint: base + PAR_PATH,
    require_pushed_authorization_requests: false,
    // Not registered with IANA, hence the prefix: the revocation feed (SSE, or JSON with ?after=SEQ),
    // for clients created with --resource-server, authenticated with HTTP Basic.
    latchkey_revocation_endpoint: base + FEED_PATH,
    // The phantom-token endpoint for API gateways (docs/GATEWAY.md): an opaque token in, a JWT out.
    latchkey_phantom_endpoint: base + PHANTOM_PATH,
  }
}

/**
 * Serves the metadata where RFC 8414 §3.1 puts it: the well-known segment between the host and the
 * issuer's path (`/.well-known/oauth-authorization-server/auth`). An issuer with a path also has it
 * under that path (`/auth/.well-known/oauth-authorization-server`), where clients that append the
 * segment to the issuer look.
 */
export function registerMetadataEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  const body = JSON.stringify(buildMetadata(ctx))
  const path = issuerPath(ctx.config.issuer)
  const locations = path === '' ? [METADATA_PATH] : [METADATA_PATH + path, path + METADATA_PATH]
  for (const location of locations) {
    registerPreflight(app, ctx, location, ['GET'])
    app.get(location, async (request, reply) => {
      if (request.headers.origin !== undefined) await applyCors(ctx, request, reply)
      reply
        .header('cache-control', 'public, max-age=300')
        // Cached by shared caches too: an answer for one origin must not be served to another.
        .header('vary', 'Origin')
        .header('x-content-type-options', 'nosniff')
        .type('application/json; charset=utf-8')
        .send(body)
      return reply
    })
  }
}
