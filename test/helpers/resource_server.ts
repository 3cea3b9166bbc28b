/**
 * A resource server in its own process, as an application depending on the package would run one:
 * it imports `latchkey/verifier` by its package name and answers `GET /check` with 200 (and the
 * token's `sub` and `sid`), 401/403/400 with RFC 6750's `WWW-Authenticate`, or 503 when the verifier
 * cannot decide. Prints `{"port": N}` on stdout once the verifier has caught up with the feed.
 *
 * Environment: ISSUER, AUDIENCE, CLIENT_ID, CLIENT_SECRET, MAX_STALENESS (seconds, default 30),
 * FEED (sse | poll, default sse).
 */
import { createServer } from 'node:http'

type VerifierModule = typeof import('@latchkey/verifier')
// The framework-free core of the adapters is not exported: taken from the package's build.
type BearerModule = typeof import('../../packages/verifier/dist/middleware/bearer.js')

// By package name, through package.json "exports", as a separate application would.
const specifier = 'latchkey/verifier'
const { createVerifier, VerifierError } = (await import(specifier)) as VerifierModule
const { authenticate, refusal } = (await import(
  new URL('../../../packages/verifier/dist/middleware/bearer.js', import.meta.url).href
)) as BearerModule

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}

const verifier = createVerifier({
  issuer: env('ISSUER'),
  audience: env('AUDIENCE'),
  clientId: env('CLIENT_ID'),
  clientSecret: env('CLIENT_SECRET'),
  maxStaleness: Number(process.env.MAX_STALENESS ?? 30),
  revocationFeed: process.env.FEED === 'poll' ? 'poll' : 'sse',
  pollInterval: 0.05,
})
await verifier.ready(15_000)

const server = createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(verifier.stats()))
    return
  }
  authenticate(verifier, req.headers.authorization, []).then(
    (claims) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ sub: claims.sub, sid: claims.sid ?? null }))
    },
    (err: unknown) => {
      if (!(err instanceof VerifierError)) {
        res.writeHead(500)
        res.end()
        return
      }
      const r = refusal(err, 'test')
      res.writeHead(r.status, { ...r.headers, 'content-type': 'application/json' })
      res.end(JSON.stringify(r.body))
    },
  )
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(
    JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n',
  )
})
process.on('SIGTERM', () => {
  verifier.close()
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
