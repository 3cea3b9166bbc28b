/**
 * The API behind NGINX in the gateway cases (`gateway.ts`), in its own process:
 * - `MODE=phantom`: takes the JWT NGINX forwards (examples/nginx/phantom.conf.template) and verifies
 *   it locally with the SDK (`latchkey/verifier`: JWKS and the revocation feed, no call per request);
 * - `MODE=introspect`: takes the opaque token itself and introspects it at Latchkey on every request
 *   (RFC 7662, one POST each over a kept-alive connection, no cache).
 * Answers `{"ok":true,"sub":…}` or 401; `GET /healthz` says it is ready.
 *
 * Environment: MODE, PORT, ISSUER, AUDIENCE, CLIENT_ID, CLIENT_SECRET.
 */
import { createServer } from 'node:http'
import { createVerifier } from '../src/verifier/index.js'

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}
const mode = env('MODE')
const issuer = env('ISSUER')
const clientId = env('CLIENT_ID')
const clientSecret = env('CLIENT_SECRET')
const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`

const verifier =
  mode === 'phantom'
    ? createVerifier({ issuer, audience: env('AUDIENCE'), clientId, clientSecret })
    : undefined
await verifier?.ready(15_000)

/** The token's `sub` when it is good for this API, else `null`. */
async function check(token: string): Promise<string | null> {
  if (verifier) {
    if (!token.includes('.')) return null
    return verifier.verify(token).then(
      (claims) => claims.sub,
      () => null,
    )
  }
  const res = await fetch(`${issuer}/introspect`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(token)}`,
  })
  const answer = (await res.json()) as { active?: boolean; sub?: string }
  return answer.active === true ? (answer.sub ?? '') : null
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.end('ok')
    return
  }
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
  check(token).then(
    (sub) => {
      if (sub === null) {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' })
        res.end()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true, sub }))
    },
    () => {
      res.writeHead(500)
      res.end()
    },
  )
})
server.listen(Number(env('PORT')), '127.0.0.1')
