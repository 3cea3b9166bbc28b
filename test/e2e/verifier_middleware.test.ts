import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { Hono } from 'hono'
import { createVerifier, type VerifiedClaims } from '@latchkey/verifier'
import { expressBearerAuth } from '@latchkey/verifier/express'
import { fastifyBearerAuth } from '@latchkey/verifier/fastify'
import { honoBearerAuth } from '@latchkey/verifier/hono'
import { rawRequest } from '../helpers/raw_http.js'
import {
  createClient,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

interface Answer {
  status: number
  challenge: string | null
  body: Record<string, unknown>
}

/** One framework's app, reached the way that framework is usually tested. */
interface Target {
  name: string
  call(path: string, headers: Record<string, string>): Promise<Answer>
  /** GET /orders with one Authorization header per value, as the framework receives them. */
  callWithAuthorizations(values: string[]): Promise<Answer>
  close(): Promise<void>
}

/** GET /orders on a Node server, written on the socket so that each header is sent as given. */
async function rawGet(url: string, authorizations: string[]): Promise<Answer> {
  const res = await rawRequest(url, [
    'GET /orders HTTP/1.1',
    `Host: ${new URL(url).host}`,
    ...authorizations.map((v) => `Authorization: ${v}`),
  ])
  return {
    status: res.status,
    challenge: res.headers['www-authenticate'] ?? null,
    body: res.json ?? {},
  }
}

async function toAnswer(res: Response): Promise<Answer> {
  const text = await res.text()
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

describe('middleware for Fastify, Express and Hono: RFC 6750 challenges, claims, scopes', () => {
  let server: TestServer
  let api: CreatedClient
  let app: CreatedClient
  let verifier: ReturnType<typeof createVerifier>
  const targets: Target[] = []
  let readToken: string
  let bothToken: string

  before(async () => {
    server = await startServer()
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    app = createClient(
      server.db,
      'app',
      '--grant',
      'client_credentials',
      '--scope',
      'orders:read orders:write',
    )
    verifier = createVerifier({
      issuer: server.url,
      audience: server.url,
      clientId: api.client_id,
      clientSecret: api.client_secret,
    })
    await verifier.ready()
    const issue = async (scope: string): Promise<string> =>
      (
        await server.post('/token', { grant_type: 'client_credentials', scope }, [
          app.client_id,
          app.client_secret,
        ])
      ).json.access_token as string
    readToken = await issue('orders:read')
    bothToken = await issue('orders:read orders:write')

    // Fastify: claims on request.latchkey.
    const f: FastifyInstance = Fastify()
    const fAuth = fastifyBearerAuth(verifier, { realm: 'orders' })
    fAuth.decorate(f)
    f.get('/orders', { preHandler: fAuth.require('orders:read') }, (request) => ({
      sub: request.latchkey?.sub,
      where: 'request.latchkey',
    }))
    f.post('/orders', { preHandler: fAuth.require('orders:write') }, (request) => ({
      sub: request.latchkey?.sub,
    }))
    f.get('/open', (request) => ({ latchkey: request.latchkey }))
    await f.listen({ port: 0, host: '127.0.0.1' })
    const fUrl = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`
    targets.push({
      name: 'fastify',
      call: async (path, headers) =>
        toAnswer(
          await fetch(fUrl + path.replace(/^POST /, ''), {
            method: path.startsWith('POST ') ? 'POST' : 'GET',
            headers,
          }),
        ),
      callWithAuthorizations: (values) => rawGet(fUrl, values),
      close: () => f.close(),
    })

    // Express: claims on res.locals.latchkey and req.auth.
    const e = express()
    const eAuth = expressBearerAuth(verifier, { realm: 'orders' })
    e.get('/orders', eAuth('orders:read'), (req, res) => {
      const claims = res.locals.latchkey as VerifiedClaims
      assert.equal((req as unknown as { auth: VerifiedClaims }).auth, claims)
      res.json({ sub: claims.sub, where: 'res.locals.latchkey' })
    })
    e.post('/orders', eAuth('orders:write'), (_req, res) => {
      res.json({ sub: (res.locals.latchkey as VerifiedClaims).sub })
    })
    const eServer = await new Promise<Server>((resolve) => {
      const s = e.listen(0, '127.0.0.1', () => resolve(s))
    })
    const eUrl = `http://127.0.0.1:${(eServer.address() as AddressInfo).port}`
    targets.push({
      name: 'express',
      call: async (path, headers) =>
        toAnswer(
          await fetch(eUrl + path.replace(/^POST /, ''), {
            method: path.startsWith('POST ') ? 'POST' : 'GET',
            headers,
          }),
        ),
      callWithAuthorizations: (values) => rawGet(eUrl, values),
      close: () =>
        new Promise((resolve) => {
          eServer.closeAllConnections()
          eServer.close(() => resolve())
        }),
    })

    // Hono: claims as c.get('auth'); tested through app.request, Hono's own way.
    const h = new Hono<{ Variables: { auth: VerifiedClaims } }>()
    const hAuth = honoBearerAuth(verifier, { realm: 'orders' })
    h.get('/orders', hAuth('orders:read'), (c) =>
      c.json({ sub: c.get('auth').sub, where: "c.get('auth')" }),
    )
    h.post('/orders', hAuth('orders:write'), (c) => c.json({ sub: c.get('auth').sub }))
    targets.push({
      name: 'hono',
      call: async (path, headers) =>
        toAnswer(
          await h.request(path.replace(/^POST /, ''), {
            method: path.startsWith('POST ') ? 'POST' : 'GET',
            headers,
          }),
        ),
      callWithAuthorizations: async (values) => {
        // A fetch Headers joins repeated headers with ", ", as Hono's Node adapter does.
        const headers = new Headers()
        for (const v of values) headers.append('authorization', v)
        return toAnswer(await h.request('/orders', { headers }))
      },
      close: () => Promise.resolve(),
    })
  })
  after(async () => {
    for (const t of targets) await t.close()
    verifier.close()
    await server.dispose()
  })

  it('lets a valid token through and puts its claims where the framework keeps them', async () => {
    for (const t of targets) {
      const res = await t.call('/orders', { authorization: `Bearer ${readToken}` })
      assert.equal(res.status, 200, t.name)
      assert.equal(res.body.sub, 'app', t.name)
      const post = await t.call('POST /orders', { authorization: `bearer ${bothToken}` })
      assert.equal(post.status, 200, `${t.name}: the scheme is case-insensitive`)
    }
  })

  it('challenges a request without a token with 401 and no error code, naming Bearer and DPoP', async () => {
    for (const t of targets) {
      const cases: Record<string, string>[] = [{}, { authorization: 'Basic YTpi' }]
      for (const headers of cases) {
        const res = await t.call('/orders', headers)
        assert.equal(res.status, 401, t.name)
        // DPoP is on by default (RFC 9449 §7.1): both schemes are offered.
        assert.equal(
          res.challenge,
          'Bearer realm="orders", DPoP realm="orders", algs="ES256 RS256 PS256 EdDSA"',
          t.name,
        )
      }
    }
  })

  it('answers a malformed Authorization header with 400 invalid_request', async () => {
    for (const t of targets) {
      for (const authorization of ['Bearer', 'Bearer a b', 'Bearer "quoted"']) {
        const res = await t.call('/orders', { authorization })
        assert.equal(res.status, 400, `${t.name}: ${authorization}`)
        assert.equal(res.body.error, 'invalid_request')
        assert.match(
          res.challenge ?? '',
          /^Bearer realm="orders", error="invalid_request", error_description="[^"]+"$/,
        )
      }
    }
  })

  it('refuses two Authorization headers with 400 invalid_request, whichever comes first', async () => {
    for (const t of targets) {
      const good = `Bearer ${readToken}`
      const control = await t.callWithAuthorizations([good])
      assert.equal(control.status, 200, `${t.name}: one header`)
      for (const values of [
        [good, 'Bearer junk'],
        ['Bearer junk', good],
        [good, good],
        ['Basic YTpi', good],
        [good, 'Basic YTpi'],
      ]) {
        const res = await t.callWithAuthorizations(values)
        assert.equal(res.status, 400, `${t.name}: ${values.join(' + ').slice(0, 60)}`)
        assert.equal(res.body.error, 'invalid_request', t.name)
        assert.match(res.challenge ?? '', /error="invalid_request"/, t.name)
      }
    }
  })

  it('refuses an invalid token with 401 invalid_token and a description', async () => {
    const [h, p] = readToken.split('.') as [string, string]
    for (const t of targets) {
      const res = await t.call('/orders', { authorization: `Bearer ${h}.${p}.AAAA` })
      assert.equal(res.status, 401, t.name)
      assert.equal(res.body.error, 'invalid_token')
      assert.equal(
        res.challenge,
        'Bearer realm="orders", error="invalid_token", error_description="signature is not valid"',
      )
    }
  })

  it('refuses a token without the route\u2019s scope with 403 insufficient_scope naming it', async () => {
    for (const t of targets) {
      const res = await t.call('POST /orders', { authorization: `Bearer ${readToken}` })
      assert.equal(res.status, 403, t.name)
      assert.equal(res.body.error, 'insufficient_scope')
      assert.match(
        res.challenge ?? '',
        /^Bearer realm="orders", error="insufficient_scope", error_description="[^"]+", scope="orders:write"$/,
      )
    }
  })

  it('leaves routes without the middleware alone (fastify: request.latchkey is null)', async () => {
    const res = await targets[0]!.call('/open', {})
    assert.equal(res.status, 200)
    assert.deepEqual(res.body, { latchkey: null })
  })
})
