/**
 * Authorization server metadata (RFC 8414 §3), built once: everything a client or resource server
 * needs to find the other endpoints.
 */
import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'
import { AUTHORIZE_PATH } from './authorize.js'
import { FEED_PATH } from './feed.js'
import { INTROSPECTION_PATH } from './introspection.js'
import { JWKS_PATH } from './jwks.js'
import { REVOCATION_PATH } from './revocation.js'
import { TOKEN_PATH, supportedGrantTypes } from './token.js'

export const METADATA_PATH = '/.well-known/oauth-authorization-server'

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post']

export function buildMetadata(ctx: ServerContext): Record<string, unknown> {
  const base = ctx.config.issuer
  return {
    issuer: base,
    authorization_endpoint: base + AUTHORIZE_PATH,
    token_endpoint: base + TOKEN_PATH,
    jwks_uri: base + JWKS_PATH,
    introspection_endpoint: base + INTROSPECTION_PATH,
    revocation_endpoint: base + REVOCATION_PATH,
    grant_types_supported: supportedGrantTypes(),
    response_types_supported: ['code'],
    // RFC 9700 §2.1.1: PKCE required, S256 only.
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: authorization responses carry `iss`.
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS, 'none'],
    // Not registered with IANA, hence the prefix: the revocation feed (SSE, or JSON with ?after=SEQ),
    // for clients created with --resource-server, authenticated with HTTP Basic.
    latchkey_revocation_endpoint: base + FEED_PATH,
  }
}

export function registerMetadataEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  const body = JSON.stringify(buildMetadata(ctx))
  app.get(METADATA_PATH, (_request, reply) => {
    reply
      .header('cache-control', 'public, max-age=300')
      .header('x-content-type-options', 'nosniff')
      .type('application/json; charset=utf-8')
      .send(body)
  })
}
