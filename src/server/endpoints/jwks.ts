/**
 * The JWK Set (RFC 7517 §5): every published key (pending, active, or kept for tokens it signed).
 * Cached by clients for `jwksMaxAge` seconds; a rotated key is published at least that long before it
 * signs.
 */
import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'
import { applyCors, registerPreflight } from '../cors.js'

export const JWKS_PATH = '/.well-known/jwks.json'

export function registerJwksEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  registerPreflight(app, ctx, JWKS_PATH, ['GET'])
  app.get(JWKS_PATH, async (request, reply) => {
    if (request.headers.origin !== undefined) await applyCors(ctx, request, reply)
    reply
      .header('cache-control', `public, max-age=${ctx.config.jwksMaxAge}`)
      // Cached by shared caches too: an answer for one origin must not be served to another.
      .header('vary', 'Origin')
      .header('x-content-type-options', 'nosniff')
      .type('application/jwk-set+json; charset=utf-8')
      .send(JSON.stringify(ctx.keys.jwks()))
    return reply
  })
}
