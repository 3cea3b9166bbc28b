/**
 * Hono adapter (`@latchkey/verifier/hono`): middleware per route that verifies the token (`Bearer`, or
 * `DPoP` with its proof, RFC 9449 §7), requires the route's scopes, and sets the claims as the context
 * variable `auth` (`c.get('auth')`); a refusal is answered with RFC 6750's (or RFC 9449's) status and
 * `WWW-Authenticate`. Written against the few members it uses, so it needs neither `hono` nor its
 * types to compile.
 *
 * ```ts
 * const app = new Hono<{ Variables: { auth: VerifiedClaims } }>()
 * const auth = honoBearerAuth(verifier, { realm: 'orders' })
 * app.get('/orders', auth('orders:read'), (c) => c.json(c.get('auth')))
 * app.post('/orders', auth({ dpop: 'required' }, 'orders:write'), …)
 * ```
 */
import type { VerifiedClaims } from '../verifier.js'
import {
  authorizeRequest,
  routeOf,
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

export interface HonoContextLike {
  req: {
    header(name: 'authorization' | 'dpop' | 'host'): string | undefined
    /** The request's method. */
    method?: string
    /** The request's absolute URL (Hono's Node adapter builds it from the `Host` header). */
    url?: string
  }
  set(key: 'auth', value: VerifiedClaims): void
}

/**
 * Token authentication for Hono: call the result with a route's scopes, optionally after its
 * `RouteOptions`, to get its middleware.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
export function honoBearerAuth(
  verifier: TokenVerifier,
  options?: BearerAuthOptions,
): (
  ...args: RouteArgs
) => (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | undefined> {
  const settings = settingsOf(options)
  return (...args) => {
    const route = routeOf(settings, args)
    return async (c, next) => {
      const url = c.req.url ?? '/'
      const outcome = await authorizeRequest(verifier, settings, route, {
        authorization: c.req.header('authorization'),
        dpop: c.req.header('dpop'),
        method: c.req.method ?? 'GET',
        url,
        host: c.req.header('host'),
        protocol: url.startsWith('https:') ? 'https' : 'http',
      })
      if (outcome.refusal !== undefined) {
        const r = outcome.refusal
        return new Response(JSON.stringify(r.body), {
          status: r.status,
          headers: { ...r.headers, 'content-type': 'application/json; charset=utf-8' },
        })
      }
      c.set('auth', outcome.claims)
      await next()
      return undefined
    }
  }
}
