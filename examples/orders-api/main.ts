/**
 * An orders API protected by Latchkey: Express, with the verifier's middleware on every route.
 *
 *   GET  /orders       needs the scope orders:read
 *   POST /orders       needs the scope orders:write
 *   GET  /healthz      open
 *
 * Run it against a Latchkey server with `npm run example`; the environment says where:
 *   LATCHKEY_ISSUER        the server's issuer URL (default http://127.0.0.1:8080)
 *   ORDERS_AUDIENCE        this API's audience, the `aud` its tokens carry (default: the issuer)
 *   ORDERS_CLIENT_ID       a client created with --resource-server, to introspect opaque tokens and
 *   ORDERS_CLIENT_SECRET   follow the revocation feed (optional: without, JWTs are checked until exp)
 *   PORT                   where this API listens (default 3000)
 */
import express, { type ErrorRequestHandler } from 'express'
import { createVerifier, type VerifiedClaims } from '@latchkey/verifier'
import { expressBearerAuth } from '@latchkey/verifier/express'

const issuer = process.env.LATCHKEY_ISSUER ?? 'http://127.0.0.1:8080'
const clientId = process.env.ORDERS_CLIENT_ID || undefined
const clientSecret = process.env.ORDERS_CLIENT_SECRET || undefined
const port = Number(process.env.PORT ?? 3000)

const verifier = createVerifier({
  issuer,
  audience: process.env.ORDERS_AUDIENCE ?? issuer,
  clientId,
  clientSecret: clientId ? clientSecret : undefined,
  onError: (err) => console.error(`orders-api: ${err.message}`),
})
const auth = expressBearerAuth(verifier, { realm: 'orders' })

interface Order {
  id: number
  item: string
  /** Who placed it: the token's `sub`. */
  owner: string
}
const orders: Order[] = []

const app = express()
app.use(express.json({ limit: '8kb' }))

app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' })
})

app.get('/orders', auth('orders:read'), (req, res) => {
  const { sub } = res.locals.latchkey as VerifiedClaims
  res.json(orders.filter((o) => o.owner === sub))
})

app.post('/orders', auth('orders:write'), (req, res) => {
  const { sub } = res.locals.latchkey as VerifiedClaims
  const item = (req.body as { item?: unknown } | undefined)?.item
  if (typeof item !== 'string' || item === '' || item.length > 200) {
    res.status(400).json({ error: 'invalid_request', error_description: 'item must be a string' })
    return
  }
  const order = { id: orders.length + 1, item, owner: sub }
  orders.push(order)
  res.status(201).json(order)
})

const onError: ErrorRequestHandler = (err, _req, res, _next) => {
  console.error('orders-api:', err)
  res.status(500).json({ error: 'server_error' })
}
app.use(onError)

const server = app.listen(port, '127.0.0.1', () => {
  console.error(`orders-api: listening on http://127.0.0.1:${port}, trusting ${issuer}`)
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    verifier.close()
    server.close(() => process.exit(0))
  })
}
