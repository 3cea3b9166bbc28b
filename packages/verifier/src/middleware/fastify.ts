/**
 * Fastify adapter (`@latchkey/verifier/fastify`): a `preHandler` per route that verifies the bearer
 * token, requires the route's scopes, and puts the claims on `request.latchkey`; a refusal is answered
 * with RFC 6750's status and `WWW-Authenticate`.
 *
 * ```ts
 * const auth = fastifyBearerAuth(verifier, { realm: 'orders' })
 * auth.decorate(app)
 * app.get('/orders', { preHandler: auth.require('orders:read') }, (request) => request.latchkey)
 * ```
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { VerifierError } from '../errors.js'
import type { VerifiedClaims } from '../verifier.js'
import {
  authenticate,
  authorizationOf,
  realmOf,
  refusal,
  type BearerAuthOptions,
  type TokenVerifier,
} from './bearer.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token's claims, set by `fastifyBearerAuth(…).require()`; `null` elsewhere. */
    latchkey: VerifiedClaims | null
  }
}

export type { BearerAuthOptions, TokenVerifier } from './bearer.js'

export interface FastifyBearerAuth {
  /** Declares `request.latchkey` on `app` (once, before routes use it). */
  decorate(app: FastifyInstance): void
  /** A preHandler that requires a valid token with every scope in `scopes`. */
  require(...scopes: string[]): (request: FastifyRequest, reply: FastifyReply) => Promise<void>
}

/**
 * Bearer authentication for Fastify routes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function fastifyBearerAuth(
  verifier: TokenVerifier,
  options?: BearerAuthOptions,
): FastifyBearerAuth {
  const realm = realmOf(options)
  return {
    decorate(app) {
      if (!app.hasRequestDecorator('latchkey')) app.decorateRequest('latchkey', null)
    },
    require(...scopes) {
      return async (request, reply) => {
        try {
          const authorization = authorizationOf(
            request.headers.authorization,
            request.raw.rawHeaders,
          )
          request.latchkey = await authenticate(verifier, authorization, scopes)
        } catch (err) {
          if (!(err instanceof VerifierError)) throw err
          const r = refusal(err, realm)
          await reply.code(r.status).headers(r.headers).send(r.body)
        }
      }
    },
  }
}
