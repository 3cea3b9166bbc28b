/**
 * One Express API for the SDK comparison (`express_sdk.ts`), in its own process as an application
 * would run it: `GET /api` behind one token middleware, answering `{"sub": …}` from the verified
 * claims. The app is the same for every middleware; only the middleware differs:
 *   - `latchkey`: `@latchkey/verifier/express` (`expressBearerAuth`), its defaults (`latchkey-inline`,
 *     `latchkey-offload`: the same with `offloadSignatureChecks` false or true, to compare);
 *   - `auth0`: Auth0's `express-oauth2-jwt-bearer` (`auth()`, discovery from the issuer, ES256);
 *   - `jose`: jose by hand, as a README would show it: `jwtVerify` with `createRemoteJWKSet` (which
 *     caches the key set) in a ten-line middleware, checking `iss`, `aud`, `typ: at+jwt` and ES256;
 *   - `none`: no token check at all, the same app's ceiling: what Express and the handler cost alone.
 * Prints `{"port": N}` on stdout once it is ready; exits 3 with a message when the middleware's
 * package is not installed.
 *
 * Usage: node dist/bench/express_app.js KIND   (environment: ISSUER, AUDIENCE, CLIENT_ID, CLIENT_SECRET)
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import express from 'express'

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}
const kind = process.argv[2]
const issuer = env('ISSUER')
const audience = env('AUDIENCE')

/** The middleware of `kind`, and what the handler reads the claims from. */
async function middleware(): Promise<{
  handler: RequestHandler
  sub: (req: Request, res: Response) => unknown
}> {
  if (kind === 'latchkey' || kind === 'latchkey-inline' || kind === 'latchkey-offload') {
    // This checkout's build of the SDK (the package name may resolve to another checkout's).
    const sdk = (path: string): string =>
      new URL(`../../packages/verifier/dist/${path}`, import.meta.url).href
    const { createVerifier } = (await import(
      sdk('index.js')
    )) as typeof import('@latchkey/verifier')
    const { expressBearerAuth } = (await import(
      sdk('middleware/express.js')
    )) as typeof import('@latchkey/verifier/express')
    const verifier = createVerifier({
      issuer,
      audience,
      clientId: env('CLIENT_ID'),
      clientSecret: env('CLIENT_SECRET'),
      ...(kind === 'latchkey' ? {} : { offloadSignatureChecks: kind === 'latchkey-offload' }),
    })
    await verifier.ready(15_000)
    const auth = expressBearerAuth(verifier)
    return {
      handler: auth() as unknown as RequestHandler,
      sub: (_req, res) => (res.locals.latchkey as { sub?: unknown } | undefined)?.sub,
    }
  }
  if (kind === 'auth0') {
    // Not a dependency of the project unless installed for this comparison: imported by a name
    // that the compiler does not resolve.
    const name = 'express-oauth2-jwt-bearer'
    let mod: { auth(options: Record<string, unknown>): RequestHandler }
    try {
      mod = (await import(name)) as typeof mod
    } catch {
      process.stderr.write(`${name} is not installed: npm install --save-dev ${name}\n`)
      process.exit(3)
    }
    return {
      handler: mod.auth({ issuerBaseURL: issuer, audience, tokenSigningAlg: 'ES256' }),
      sub: (req) =>
        (req as Request & { auth?: { payload?: { sub?: unknown } } }).auth?.payload?.sub,
    }
  }
  if (kind === 'none') {
    return { handler: (_req, _res, next) => next(), sub: () => 'nobody' }
  }
  if (kind === 'jose') {
    const { createRemoteJWKSet, jwtVerify } = await import('jose')
    const metadata = (await (
      await fetch(`${issuer}/.well-known/oauth-authorization-server`)
    ).json()) as { jwks_uri: string }
    const keys = createRemoteJWKSet(new URL(metadata.jwks_uri))
    const handler: RequestHandler = (req, res, next) => {
      const header = req.headers.authorization ?? ''
      if (!header.startsWith('Bearer ')) {
        res.status(401).set('www-authenticate', 'Bearer').json({ error: 'invalid_request' })
        return
      }
      jwtVerify(header.slice(7), keys, {
        issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      }).then(
        ({ payload }) => {
          res.locals.claims = payload
          next()
        },
        () => {
          res
            .status(401)
            .set('www-authenticate', 'Bearer error="invalid_token"')
            .json({ error: 'invalid_token' })
        },
      )
    }
    return { handler, sub: (_req, res) => (res.locals.claims as { sub?: unknown }).sub }
  }
  throw new Error(
    `unknown middleware ${JSON.stringify(kind)}: latchkey, latchkey-inline, latchkey-offload, auth0, jose or none`,
  )
}

const { handler, sub } = await middleware()
const app = express()
app.disable('x-powered-by')
app.get('/api', handler, (req: Request, res: Response) => {
  res.json({ sub: sub(req, res) })
})
// Refusals and errors answered alike by every middleware's app: a status, no stack trace.
app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
  const status = (err as { status?: number }).status ?? 500
  res.status(status).json({ error: status === 500 ? 'server_error' : 'invalid_token' })
})
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(
    JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n',
  )
})
server.keepAliveTimeout = 60_000
process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
