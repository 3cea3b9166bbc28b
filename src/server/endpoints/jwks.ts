/**
 * The JWK Set (RFC 7517 §5): every published key (pending, active, or kept for tokens it signed).
 * Cached by clients for `jwksMaxAge` seconds; a rotated key is published at least that long before it
 * signs.
 */
import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'

export const JWKS_PATH = '/.well-known/jwks.json'

export function registerJwksEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  app.get(JWKS_PATH, (_request, reply) => {
    reply
      .header('cache-control', `public, max-age=${ctx.config.jwksMaxAge}`)
      .header('x-content-type-options', 'nosniff')
      .type('application/jwk-set+json; charset=utf-8')
      .send(JSON.stringify(ctx.keys.jwks()))
  })
}
