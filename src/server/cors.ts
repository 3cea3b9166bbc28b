/**
 * CORS (Fetch Standard §3.2) for browser apps: the endpoints a single-page app calls directly
 * (metadata, JWKS, token, revocation; userinfo later) answer an `Origin` that belongs to a client,
 * and no other. An origin belongs to a client when it is the origin of a redirect URI of a public
 * client (`none`: its code runs in the browser), or when any client lists it in `allowedOrigins`
 * (`client create --allowed-origin`). A confidential client's redirect URIs open nothing: its browser
 * pages have no business calling the token endpoint.
 *
 * An allowed origin gets `Access-Control-Allow-Origin: <that origin>` and `Vary: Origin`, never
 * `Access-Control-Allow-Credentials` (nothing here rides on cookies). A preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) from an allowed origin gets 204 with the methods and headers the
 * endpoint takes; from any other origin, 403 without CORS headers, which fails it (Fetch §4.8:
 * a preflight needs an ok status and a matching allow-origin).
 *
 * The allowed origins are computed from `listClients()` and kept for `refreshMs`: no store read per
 * request. They are read again only when a request with an `Origin` asks after they went stale, at
 * most once at a time, and never more often than twenty times the last read took (a store with very
 * many clients is not listed back to back). So a new client's origin works, and a deleted one's stops,
 * within about `refreshMs`. A request without `Origin` costs one property read.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { ClientRecord, ClientStore } from '../store/types.js'

/** What a preflight allows: the request headers a browser app sends to these endpoints. */
export const CORS_ALLOWED_HEADERS = 'Authorization, Content-Type, DPoP'
/** What a browser app may read from a response besides the safelisted headers. */
export const CORS_EXPOSED_HEADERS = 'WWW-Authenticate, DPoP-Nonce'
/** How long a browser may reuse a preflight's answer, seconds. */
export const CORS_MAX_AGE = 600

/** The web origins the client opens: see the module comment. */
export function clientOrigins(client: ClientRecord): string[] {
  const origins = [...client.allowedOrigins]
  if (client.authMethod === 'none') {
    for (const uri of client.redirectUris) {
      let origin: string
      try {
        origin = new URL(uri).origin
      } catch {
        continue
      }
      // Custom schemes (native apps) have an opaque origin, serialised "null": never a browser's.
      if (origin !== 'null') origins.push(origin)
    }
  }
  return origins
}

export class CorsOrigins {
  private origins: ReadonlySet<string> = new Set()
  /** When the set may next be read again (ms since the epoch); 0: never read. */
  private freshUntil = 0
  private loading: Promise<void> | undefined

  constructor(
    private readonly store: Pick<ClientStore, 'listClients'>,
    private readonly refreshMs = 1000,
    private readonly logger?: Logger,
  ) {}

  /** Whether `origin` belongs to a client (reading the clients again if the set went stale). */
  async allows(origin: string): Promise<boolean> {
    if (Date.now() >= this.freshUntil) await this.refresh()
    return this.origins.has(origin)
  }

  /** Reads the clients again, once for every concurrent caller. */
  private refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined
    })
    return this.loading
  }

  private async load(): Promise<void> {
    const started = Date.now()
    try {
      const origins = new Set<string>()
      for (const client of await this.store.listClients()) {
        for (const origin of clientOrigins(client)) origins.add(origin)
      }
      this.origins = origins
    } catch (err) {
      // The last set stays: a store outage must not open anything, and closes nothing new either.
      this.logger?.warn({ err }, 'could not read the clients for CORS origins')
    }
    const took = Date.now() - started
    this.freshUntil = Date.now() + Math.max(this.refreshMs, 20 * took)
  }
}

/** Where `applyCors` and `registerPreflight` find the allowed origins (a `ServerContext` has them). */
export interface CorsContext {
  cors: CorsOrigins
}

/**
 * Adds the CORS headers to an actual request's answer when its `Origin` is allowed. Call it before
 * anything can throw, so errors carry them too; and only when `request.headers.origin` is set (the
 * common path pays nothing).
 */
export async function applyCors(
  ctx: CorsContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const origin = request.headers.origin
  if (origin === undefined) return
  reply.header('vary', 'Origin')
  if (await ctx.cors.allows(origin)) {
    reply
      .header('access-control-allow-origin', origin)
      .header('access-control-expose-headers', CORS_EXPOSED_HEADERS)
  }
}

/** Answers `OPTIONS path`: a CORS preflight for `methods`, allowed only for a client's origin. */
export function registerPreflight(
  app: FastifyInstance,
  ctx: CorsContext,
  path: string,
  methods: readonly string[],
): void {
  const allowMethods = methods.join(', ')
  app.options(path, async (request, reply) => {
    const origin = request.headers.origin
    const method = request.headers['access-control-request-method']
    reply
      .header('vary', 'Origin')
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
    if (
      origin === undefined ||
      method === undefined ||
      !methods.includes(method) ||
      !(await ctx.cors.allows(origin))
    ) {
      return reply.code(403).send()
    }
    return reply
      .code(204)
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-methods', allowMethods)
      .header('access-control-allow-headers', CORS_ALLOWED_HEADERS)
      .header('access-control-max-age', String(CORS_MAX_AGE))
      .send()
  })
}
