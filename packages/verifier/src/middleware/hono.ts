/**
 * Hono adapter (`@latchkey/verifier/hono`): middleware per route that verifies the bearer token,
 * requires the route's scopes, and sets the claims as the context variable `auth` (`c.get('auth')`);
 * a refusal is answered with RFC 6750's status and `WWW-Authenticate`. Written against the few members
 * it uses, so it needs neither `hono` nor its types to compile.
 *
 * ```ts
 * const app = new Hono<{ Variables: { auth: VerifiedClaims } }>()
 * const auth = honoBearerAuth(verifier, { realm: 'orders' })
 * app.get('/orders', auth('orders:read'), (c) => c.json(c.get('auth')))
 * ```
 */
import { VerifierError } from '../errors.js'
import type { VerifiedClaims } from '../verifier.js'
import {
  authenticate,
  realmOf,
  refusal,
  type BearerAuthOptions,
  type TokenVerifier,
} from './bearer.js'

export type { BearerAuthOptions, TokenVerifier } from './bearer.js'

export interface HonoContextLike {
  req: { header(name: 'authorization'): string | undefined }
  set(key: 'auth', value: VerifiedClaims): void
}

/**
 * Bearer authentication for Hono: call the result with a route's scopes to get its middleware.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function honoBearerAuth(
  verifier: TokenVerifier,
  options?: BearerAuthOptions,
): (
  ...scopes: string[]
) => (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | undefined> {
  const realm = realmOf(options)
  return (...scopes) =>
    async (c, next) => {
      let claims: VerifiedClaims
      try {
        claims = await authenticate(verifier, c.req.header('authorization'), scopes)
      } catch (err) {
        if (!(err instanceof VerifierError)) throw err
        const r = refusal(err, realm)
        return new Response(JSON.stringify(r.body), {
          status: r.status,
          headers: { ...r.headers, 'content-type': 'application/json; charset=utf-8' },
        })
      }
      c.set('auth', claims)
      await next()
      return undefined
    }
}
