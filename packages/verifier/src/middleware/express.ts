/**
 * Express adapter (`@latchkey/verifier/express`): middleware per route that verifies the token
 * (`Bearer`, or `DPoP` with its proof, RFC 9449 §7), requires the route's scopes, and puts the claims
 * on `req.auth` and `res.locals.latchkey`; a refusal is answered with RFC 6750's (or RFC 9449's)
 * status and `WWW-Authenticate`. Written against the few members it uses, so it needs neither
 * `express` nor its types to compile.
 *
 * ```ts
 * const auth = expressBearerAuth(verifier, { realm: 'orders' })
 * app.get('/orders', auth('orders:read'), (req, res) => res.json(res.locals.latchkey))
 * app.post('/orders', auth({ dpop: 'required' }, 'orders:write'), …)
 * ```
 */
import type { VerifiedClaims } from '../verifier.js'
import {
  authorizationOf,
  authorizeRequest,
  routeOf,
  type Outcome,
  settingsOf,
  type BearerAuthOptions,
  type RouteArgs,
  type TokenVerifier,
} from './bearer.js'

export type {
  BearerAuthOptions,
  DPoPMode,
  RouteArgs,
  RouteOptions,
  TokenVerifier,
} from './bearer.js'

export interface ExpressRequestLike {
  headers: {
    authorization?: string | undefined
    host?: string | undefined
    dpop?: string | string[] | undefined
  }
  /** Node's raw header list, where a repeated Authorization header shows. */
  rawHeaders?: string[]
  method?: string
  /** The path and query as received, before any router stripped a mount path. */
  originalUrl?: string
  url?: string
  /** `http` or `https`, per Express's `trust proxy` setting. */
  protocol?: string
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
 * Token authentication for Express (4 and 5): call the result with a route's scopes, optionally
 * after its `RouteOptions`, to get its middleware. Errors other than refusals go to `next(err)`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
export function expressBearerAuth(
  verifier: TokenVerifier,
  options?: BearerAuthOptions,
): (
  ...args: RouteArgs
) => (req: ExpressRequestLike, res: ExpressResponseLike, next: ExpressNext) => void {
  const settings = settingsOf(options)
  return (...args) => {
    const route = routeOf(settings, args)
    return (req, res, next) => {
      const finish = (outcome: Outcome): void => {
        if (outcome.refusal === undefined) {
          req.auth = outcome.claims
          res.locals.latchkey = outcome.claims
          return next()
        }
        const r = outcome.refusal
        res.status(r.status).set(r.headers).json(r.body)
      }
      let outcome
      try {
        outcome = authorizeRequest(verifier, settings, route, {
          authorization: authorizationOf(req.headers.authorization, req.rawHeaders),
          dpop: req.headers.dpop,
          method: req.method ?? 'GET',
          url: req.originalUrl ?? req.url ?? '/',
          host: req.headers.host,
          protocol: req.protocol ?? 'http',
        })
      } catch (err) {
        return next(err)
      }
      // A token the caches answer for goes on at once; a check in progress, when it ends.
      if (outcome instanceof Promise) outcome.then(finish, next)
      else finish(outcome)
    }
  }
}
