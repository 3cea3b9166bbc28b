/**
 * Express adapter (`@latchkey/verifier/express`): middleware per route that verifies the bearer token,
 * requires the route's scopes, and puts the claims on `req.auth` and `res.locals.latchkey`; a refusal
 * is answered with RFC 6750's status and `WWW-Authenticate`. Written against the few members it uses,
 * so it needs neither `express` nor its types to compile.
 *
 * ```ts
 * const auth = expressBearerAuth(verifier, { realm: 'orders' })
 * app.get('/orders', auth('orders:read'), (req, res) => res.json(res.locals.latchkey))
 * ```
 */
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

export type { BearerAuthOptions, TokenVerifier } from './bearer.js'

export interface ExpressRequestLike {
  headers: { authorization?: string | undefined }
  /** Node's raw header list, where a repeated Authorization header shows. */
  rawHeaders?: string[]
  auth?: VerifiedClaims
}

export interface ExpressResponseLike {
  locals: Record<string, unknown>
  status(code: number): this
  set(headers: Record<string, string>): this
  json(body: unknown): unknown
}

export type ExpressNext = (err?: unknown) => void

/**
 * Bearer authentication for Express (4 and 5): call the result with a route's scopes to get its
 * middleware. Errors other than refusals go to `next(err)`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function expressBearerAuth(
  verifier: TokenVerifier,
  options?: BearerAuthOptions,
): (
  ...scopes: string[]
) => (req: ExpressRequestLike, res: ExpressResponseLike, next: ExpressNext) => void {
  const realm = realmOf(options)
  return (...scopes) =>
    (req, res, next) => {
      const authorization = authorizationOf(req.headers.authorization, req.rawHeaders)
      authenticate(verifier, authorization, scopes).then(
        (claims) => {
          req.auth = claims
          res.locals.latchkey = claims
          next()
        },
        (err: unknown) => {
          if (!(err instanceof VerifierError)) return next(err)
          const r = refusal(err, realm)
          res.status(r.status).set(r.headers).json(r.body)
        },
      )
    }
}
