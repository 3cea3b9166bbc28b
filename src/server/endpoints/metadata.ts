/**
 * Authorization server metadata (RFC 8414 §3), built once: everything a client or resource server
 * needs to find the other endpoints. Every `*_supported` list says what the endpoints really accept:
 * a test (test/e2e/metadata_truth.test.ts) tries each listed value and the usual unlisted ones.
 *
 * The OpenID Connect provider configuration (Discovery 1.0 §3) is the same document plus what an
 * OpenID provider states, served at `/.well-known/openid-configuration` (§4); its
 * `id_token_signing_alg_values_supported` is read per request: the algs with a key signing now.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SIGNING_ALGS } from '../../store/types.js'
import { PROMPT_VALUES } from '../authorization_request.js'
import type { ServerContext } from '../context.js'
import { issuerPath, METADATA_PATH, OPENID_CONFIGURATION_PATH } from '../issuer.js'
import { ID_TOKEN_CLAIMS } from '../../tokens/id_token.js'
import { applyCors, registerPreflight } from '../cors.js'
import { AUTHORIZE_PATH } from './authorize.js'
import { FEED_PATH } from './feed.js'
import { INTROSPECTION_PATH } from './introspection.js'
import { JWKS_PATH } from './jwks.js'
import { LOGOUT_PATH } from './logout.js'
import { PAR_PATH } from './par.js'
import { REVOCATION_PATH } from './revocation.js'
import { allMethods, provingMethods } from '../client_auth/index.js'
import { ASSERTION_SIGNING_ALGS } from '../client_auth/private_key_jwt.js'
import { GRANT_TYPES } from '../grants/index.js'
import { DPOP_SIGNING_ALGS } from '../dpop.js'
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
    // OpenID Connect Discovery §3 / Core §3.1.2.1: the `prompt` values the authorization endpoint acts on.
    prompt_values_supported: [...PROMPT_VALUES],
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
    // moment, and the signing-alg setting can make that key any of these.
    introspection_signing_alg_values_supported: [...SIGNING_ALGS],
    // RFC 9449 §5.1: what a DPoP proof may be signed with (the token endpoint and userinfo).
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    // RFC 9126 §5: pushed requests are accepted from every client, required server-wide from none
    // (a client registered with --require-par must push; RFC 9126 §6).
    pushed_authorization_request_endpoint: base + PAR_PATH,
    require_pushed_authorization_requests: false,
    // OpenID Connect RP-Initiated Logout 1.0 §2.1 and Back-Channel Logout 1.0 §2.1: logout tokens
    // carry `sid`. No front-channel logout (iframes): the pages allow no framing and no script.
    end_session_endpoint: base + LOGOUT_PATH,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    frontchannel_logout_supported: false,
    // Not registered with IANA, hence the prefix: the revocation feed (SSE, or JSON with ?after=SEQ),
    // for clients created with --resource-server, authenticated with HTTP Basic.
    latchkey_revocation_endpoint: base + FEED_PATH,
    // The phantom-token endpoint for API gateways (docs/GATEWAY.md): an opaque token in, a JWT out.
    latchkey_phantom_endpoint: base + PHANTOM_PATH,
  }
}

/** The scopes with a meaning of their own (OpenID Connect Core §3.1.2.1, §5.4). */
const OPENID_SCOPES = ['openid', 'profile', 'email']

/**
 * The OpenID Connect provider configuration (Discovery 1.0 §3): `metadata` plus the OpenID fields.
 * `signingAlgs` are the algs with a key signing now, which clients may ask for their ID tokens.
 */
export function buildOpenIdConfiguration(
  metadata: Record<string, unknown>,
  signingAlgs: readonly string[],
): Record<string, unknown> {
  return {
    ...metadata,
    // Other scopes are the clients' own (client create --scope); these are the ones OpenID defines.
    scopes_supported: OPENID_SCOPES,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: signingAlgs,
    claims_supported: ID_TOKEN_CLAIMS,
    // Core §5.5: the `id_token` member is honoured for the profile claims; `request` (§6) is not.
    claims_parameter_supported: true,
    request_parameter_supported: false,
  }
}

/** Sends a well-known JSON document, cached and answered cross-origin like every metadata. */
async function sendDocument(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  body: string,
): Promise<FastifyReply> {
  if (request.headers.origin !== undefined) await applyCors(ctx, request, reply)
  reply
    .header('cache-control', 'public, max-age=300')
    // Cached by shared caches too: an answer for one origin must not be served to another.
    .header('vary', 'Origin')
    .header('x-content-type-options', 'nosniff')
    .type('application/json; charset=utf-8')
    .send(body)
  return reply
}

/**
 * Where a well-known document of `issuer` is served: the well-known segment between the host and the
 * issuer's path (RFC 8414 §3.1), and, for an issuer with a path, under that path too (where clients
 * that append the segment to the issuer look, as OpenID Connect Discovery §4 does).
 */
function wellKnownLocations(issuer: string, segment: string): string[] {
  const path = issuerPath(issuer)
  return path === '' ? [segment] : [segment + path, path + segment]
}

/**
 * Serves the metadata where RFC 8414 §3.1 puts it (`/.well-known/oauth-authorization-server/auth`
 * for an issuer with the path `/auth`, and `/auth/.well-known/oauth-authorization-server`), and the
 * OpenID provider configuration the same way (`/auth/.well-known/openid-configuration`, Discovery
 * §4, and `/.well-known/openid-configuration/auth`).
 */
export function registerMetadataEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  const metadata = buildMetadata(ctx)
  const body = JSON.stringify(metadata)
  for (const location of wellKnownLocations(ctx.config.issuer, METADATA_PATH)) {
    registerPreflight(app, ctx, location, ['GET'])
    app.get(location, (request, reply) => sendDocument(ctx, request, reply, body))
  }
  // The algs with keys change with rotations: rebuilt when they do.
  let openId = { algs: '', body: '' }
  for (const location of wellKnownLocations(ctx.config.issuer, OPENID_CONFIGURATION_PATH)) {
    registerPreflight(app, ctx, location, ['GET'])
    app.get(location, (request, reply) => {
      const algs = ctx.keys.signingAlgs()
      if (openId.body === '' || openId.algs !== algs.join()) {
        openId = {
          algs: algs.join(),
          body: JSON.stringify(buildOpenIdConfiguration(metadata, algs)),
        }
      }
      return sendDocument(ctx, request, reply, openId.body)
    })
  }
}
