/**
 * Fastify adapter (`@latchkey/verifier/fastify`): a `preHandler` per route that verifies the token
 * (`Bearer`, or `DPoP` with its proof, RFC 9449 §7), requires the route's scopes, and puts the claims
 * on `request.latchkey`; a refusal is answered with RFC 6750's (or RFC 9449's) status and
 * `WWW-Authenticate`.
 *
 * ```ts
 * const auth = fastifyBearerAuth(verifier, { realm: 'orders' })
 * auth.decorate(app)
 * app.get('/orders', { preHandler: auth.require('orders:read') }, (request) => request.latchkey)
 * app.post('/orders', { preHandler: auth.require({ dpop: 'required' }, 'orders:write') }, …)
 * ```
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { VerifiedClaims } from '../verifier.js'
import {
  authorizationOf,
  authorizeRequest,
  routeOf,
  settingsOf,
  type BearerAuthOptions,
  type RouteArgs,
  type TokenVerifier,
} from './bearer.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token's claims, set by `fastifyBearerAuth(…).require()`; `null` elsewhere. */
    latchkey: VerifiedClaims | null
  }
}

export type {
  BearerAuthOptions,
  DPoPMode,
  RouteArgs,
  RouteOptions,
  TokenVerifier,
} from './bearer.js'

export interface FastifyBearerAuth {
  /** Declares `request.latchkey` on `app` (once, before routes use it). */
  decorate(app: FastifyInstance): void
  /**
   * A preHandler that requires a valid token with every scope in `scopes`, optionally after the
   * route's `RouteOptions`.
   */
  require(...args: RouteArgs): (request: FastifyRequest, reply: FastifyReply) => Promise<void>
}

/**
 * Token authentication for Fastify routes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
export function fastifyBearerAuth(
  verifier: TokenVerifier,
  options?: BearerAuthOptions,
): FastifyBearerAuth {
  const settings = settingsOf(options)
  return {
    decorate(app) {
      if (!app.hasRequestDecorator('latchkey')) app.decorateRequest('latchkey', null)
    },
    require(...args) {
      const route = routeOf(settings, args)
      return async (request, reply) => {
        const outcome = await authorizeRequest(verifier, settings, route, {
          authorization: authorizationOf(request.headers.authorization, request.raw.rawHeaders),
          dpop: request.headers.dpop,
          method: request.method,
          url: request.url,
          host: request.headers.host,
          protocol: request.protocol,
        })
        if (outcome.refusal === undefined) {
          request.latchkey = outcome.claims
          return
        }
        const r = outcome.refusal
        await reply.code(r.status).headers(r.headers).send(r.body)
      }
    },
  }
}
