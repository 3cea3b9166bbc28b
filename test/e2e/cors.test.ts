/**
 * CORS for browser apps (Fetch Standard §3.2; DESIGN.md): the metadata and the OpenID provider
 * configuration (each at both of its well-known locations), the JWKS, the token and the revocation endpoints answer the origins of public clients'
 * redirect URIs and of any client's `--allowed-origin`, and no other origin: not a confidential
 * client's redirect origin, not an unknown one. Preflights and actual requests, as a browser sends
 * them; new and deleted clients are seen within about a second; a request without Origin is unchanged.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  cli,
  createClient,
  freePort,
  request,
  sleep,
  startServer,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const SPA = 'https://spa.example'
const DASHBOARD = 'https://dashboard.example'
const CONFIDENTIAL = 'https://confidential.example'
const UNKNOWN = 'https://evil.example'

describe('CORS for browser apps', () => {
  let server: TestServer
  let issuer: string
  /** Every endpoint a browser app may call, with the method it uses. */
  let endpoints: { url: string; method: 'GET' | 'POST' }[]

  before(async () => {
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}/auth`
    server = await startServer({ port, args: ['--issuer', issuer] })
    const origin = new URL(issuer).origin
    endpoints = [
      { url: `${origin}/.well-known/oauth-authorization-server/auth`, method: 'GET' },
      { url: `${issuer}/.well-known/oauth-authorization-server`, method: 'GET' },
      { url: `${issuer}/.well-known/openid-configuration`, method: 'GET' },
      { url: `${origin}/.well-known/openid-configuration/auth`, method: 'GET' },
      { url: `${issuer}/.well-known/jwks.json`, method: 'GET' },
      { url: `${issuer}/token`, method: 'POST' },
      { url: `${issuer}/revoke`, method: 'POST' },
      { url: `${issuer}/userinfo`, method: 'GET' },
      { url: `${issuer}/userinfo`, method: 'POST' },
    ]
    createClient(
      server.db,
      'spa',
      ...['--public', '--grant', 'authorization_code', '--redirect-uri', `${SPA}/callback`],
    )
    createClient(
      server.db,
      'web',
      ...['--grant', 'authorization_code', '--redirect-uri', `${CONFIDENTIAL}/callback`],
    )
    createClient(
      server.db,
      'svc',
      ...['--grant', 'client_credentials', '--allowed-origin', DASHBOARD],
    )
  })
  after(() => server.dispose())

  const preflight = (url: string, origin: string, method: string): Promise<HttpResponse> =>
    request(url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'content-type',
      },
    })

  /** The actual request: a form POST for the token and revocation endpoints, a GET otherwise. */
  const actual = (url: string, method: 'GET' | 'POST', origin?: string): Promise<HttpResponse> => {
    const headers: Record<string, string> = origin === undefined ? {} : { origin }
    if (method === 'GET') return request(url, { headers })
    return request(url, {
      method,
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: 'spa',
        token: 'nothing',
        grant_type: 'nothing',
      }).toString(),
    })
  }

  function assertAllowedPreflight(
    res: HttpResponse,
    origin: string,
    method: string,
    label: string,
  ) {
    assert.equal(res.status, 204, label)
    assert.equal(res.headers['access-control-allow-origin'], origin, label)
    assert.match(String(res.headers.vary), /\bOrigin\b/, label)
    const methods = String(res.headers['access-control-allow-methods']).split(', ')
    assert.ok(methods.includes(method), `${label}: ${methods.join(', ')} allows ${method}`)
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase()
    for (const h of ['authorization', 'content-type', 'dpop']) assert.ok(allowed.includes(h), label)
    assert.ok(Number(res.headers['access-control-max-age']) > 0, label)
    assert.equal(res.headers['access-control-allow-credentials'], undefined, label)
  }

  function assertNoCors(res: HttpResponse, label: string) {
    for (const name of Object.keys(res.headers)) {
      assert.ok(!name.startsWith('access-control-'), `${label}: ${name}`)
    }
  }

  for (const [who, origin] of [
    ['a public client’s redirect origin', SPA],
    ['an --allowed-origin', DASHBOARD],
  ] as const) {
    it(`answers ${who} on every endpoint, preflight and actual request, errors included`, async () => {
      for (const { url, method } of endpoints) {
        assertAllowedPreflight(await preflight(url, origin, method), origin, method, url)
        const res = await actual(url, method, origin)
        assert.ok(res.status < 500, `${url}: ${res.status}`)
        assert.equal(res.headers['access-control-allow-origin'], origin, url)
        assert.match(String(res.headers.vary), /\bOrigin\b/, url)
        assert.equal(res.headers['access-control-allow-credentials'], undefined, url)
      }
    })
  }

  for (const [who, origin] of [
    ['a confidential client’s redirect origin', CONFIDENTIAL],
    ['an unknown origin', UNKNOWN],
    ['the opaque origin "null"', 'null'],
    ['an allowed origin with a path', `${SPA}/`],
  ] as const) {
    it(`fails the preflight of ${who} and adds no CORS header to its requests`, async () => {
      for (const { url, method } of endpoints) {
        const pre = await preflight(url, origin, method)
        assert.equal(pre.status, 403, url)
        assertNoCors(pre, url)
        const res = await actual(url, method, origin)
        assert.ok(res.status < 500, `${url}: ${res.status}`)
        assertNoCors(res, url)
      }
    })
  }

  it('fails a preflight for a method the endpoint does not take, or without a requested method', async () => {
    const token = `${issuer}/token`
    assertNoCors(await preflight(token, SPA, 'DELETE'), 'DELETE')
    assert.equal((await preflight(token, SPA, 'GET')).status, 403)
    const bare = await request(token, { method: 'OPTIONS', headers: { origin: SPA } })
    assert.equal(bare.status, 403)
    assertNoCors(bare, 'no Access-Control-Request-Method')
  })

  it('leaves requests without Origin as they were: no CORS header, the same answers', async () => {
    for (const { url, method } of endpoints) {
      const res = await actual(url, method)
      assertNoCors(res, url)
    }
    const token = await actual(`${issuer}/token`, 'POST')
    assert.equal(token.status, 400)
    assert.equal(token.headers.vary, undefined)
    // Cacheable answers say they vary by Origin, so a shared cache never mixes them up.
    const md = await actual(endpoints[0]!.url, 'GET')
    assert.equal(md.headers.vary, 'Origin')
  })

  it('answers a new public client’s origin within about a second, and stops once it is deleted', async () => {
    const late = 'https://late.example'
    const url = `${issuer}/token`
    assert.equal((await preflight(url, late, 'POST')).status, 403)
    createClient(
      server.db,
      'late',
      ...['--public', '--grant', 'authorization_code', '--redirect-uri', `${late}/cb`],
    )
    const created = Date.now()
    const until = async (status: number): Promise<number> => {
      for (;;) {
        const res = await preflight(url, late, 'POST')
        if (res.status === status) return Date.now()
        assert.ok(Date.now() - created < 5000, `still ${res.status}`)
        await sleep(50)
      }
    }
    const allowedAt = await until(204)
    assert.ok(allowedAt - created < 2000, `allowed after ${allowedAt - created} ms`)
    const deleted = cli(['client', 'delete', '--db', server.db, '--id', 'late'])
    assert.equal(deleted.status, 0, deleted.stderr)
    const deletedAt = Date.now()
    const refusedAt = await until(403)
    assert.ok(refusedAt - deletedAt < 2000, `still allowed ${refusedAt - deletedAt} ms later`)
  })
})
