/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2 and §3) against a real server: clients
 * registered with the real CLI (`--jwks-file`, or `--jwks-uri` served by a small HTTP server here),
 * driven by the client library `oauth4webapi` at the token, introspection and revocation endpoints,
 * and attacked: replays (on one node and across two nodes on one PostgreSQL database), wrong claims,
 * wrong keys, `none` and HMAC algorithm confusion, mixed methods, unknown clients, a key set URI that
 * is down or answers junk, and a key rotated at the URI.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import * as oauth from 'oauth4webapi'
import {
  basic,
  createClient,
  freePort,
  request,
  sleep,
  startServer,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/** Generous limits: these tests fail on purpose many times from one address. */
const ENV = {
  LATCHKEY_AUTH_FAILURES_PER_ADDRESS: '1000',
  LATCHKEY_AUTH_FAILURES_PER_CLIENT: '1000',
}

interface Key {
  kid: string
  alg: string
  privateKey: CryptoKey
  publicKey: CryptoKey
  jwk: JWK
}

async function newKey(alg: string, kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicKey, jwk }
}

const now = (): number => Math.floor(Date.now() / 1000)

/** A signed assertion for `clientId` to `aud`, with `claims` replacing (or, when undefined, removing) the usual ones. */
async function assertion(
  key: Key,
  clientId: string,
  aud: string,
  claims: Record<string, unknown> = {},
): Promise<string> {
  const t = now()
  const payload: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud,
    jti: randomUUID(),
    iat: t,
    exp: t + 60,
    ...claims,
  }
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k]
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .sign(key.privateKey)
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A small key set host whose answer the test changes. */
class KeySetHost {
  body = '{"keys":[]}'
  fetches = 0
  private server: Server = createServer((req, res) => {
    this.fetches++
    if (req.url === '/junk') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": not json')
    } else if (req.url === '/huge') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keys: [], pad: 'x'.repeat(200_000) }))
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(this.body)
    }
  })
  port = 0
  async start(): Promise<void> {
    this.port = await freePort()
    await new Promise<void>((r) => this.server.listen(this.port, '127.0.0.1', r))
  }
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()))
  }
}

/** POSTs `form` to `path` with a client assertion (and `extra` fields, `headers`). */
function withAssertion(
  server: TestServer,
  path: string,
  jwt: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  return request(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({
      ...form,
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: jwt,
    }).toString(),
  })
}

const CC = { grant_type: 'client_credentials' }

function assertRefused(res: HttpResponse, what: string): void {
  assert.equal(res.status, 401, `${what}: ${res.text}`)
  assert.equal(res.json.error, 'invalid_client', what)
}

describe('private_key_jwt client authentication (RFC 7523)', () => {
  let server: TestServer
  let issuer: string
  let host: KeySetHost
  let es: Key
  let rs: Key
  let rotated: Key
  let stranger: Key
  const FILE = 'svc-file'
  const URI = 'svc-uri'

  before(async () => {
    host = new KeySetHost()
    await host.start()
    server = await startServer({ env: ENV })
    issuer = (await server.get('/.well-known/oauth-authorization-server')).json.issuer as string
    ;[es, rs, rotated, stranger] = await Promise.all([
      newKey('ES256', 'es-1'),
      newKey('RS256', 'rs-1'),
      newKey('ES256', 'es-2'),
      newKey('ES256', 'es-1'), // same kid as `es`, another key
    ])
    const file = join(server.dir, 'jwks.json')
    writeFileSync(file, JSON.stringify({ keys: [es.jwk, rs.jwk] }))
    const pk = ['--grant', 'client_credentials', '--auth-method', 'private_key_jwt']
    createClient(server.db, FILE, ...pk, '--jwks-file', file, '--resource-server')
    host.body = JSON.stringify({ keys: [es.jwk] })
    createClient(server.db, URI, ...pk, '--jwks-uri', host.url('/jwks'))
    createClient(server.db, 'svc-junk', ...pk, '--jwks-uri', host.url('/junk'))
    createClient(server.db, 'svc-huge', ...pk, '--jwks-uri', host.url('/huge'))
    const closed = await freePort()
    createClient(server.db, 'svc-down', ...pk, '--jwks-uri', `http://127.0.0.1:${closed}/jwks`)
    createClient(server.db, 'svc-secret', '--grant', 'client_credentials')
  })
  after(async () => {
    await server?.dispose()
    await host?.close()
  })

  it('lets oauth4webapi authenticate with ES256 and RS256 keys at the token, introspection and revocation endpoints', async () => {
    const insecure = { [oauth.allowInsecureRequests]: true }
    const as = await oauth.processDiscoveryResponse(
      new URL(issuer),
      await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure }),
    )
    const client: oauth.Client = { client_id: FILE }
    for (const key of [es, rs]) {
      const auth = oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid })
      const tokens = await oauth.processClientCredentialsResponse(
        as,
        client,
        await oauth.clientCredentialsGrantRequest(as, client, auth, {}, insecure),
      )
      assert.equal(typeof tokens.access_token, 'string')
      const live = await oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
      )
      assert.equal(live.active, true, key.alg)
      assert.equal(live.client_id, FILE)
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client, auth, tokens.access_token, insecure),
      )
      const dead = await oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
      )
      assert.equal(dead.active, false, `${key.alg}: revoked`)
    }
  })

  it('accepts as aud the issuer, the token endpoint, or the endpoint called, in a string or an array', async () => {
    const base = issuer.replace(/\/+$/, '')
    for (const aud of [issuer, base + '/token', [base + '/token', 'https://other.example']]) {
      const res = await withAssertion(server, '/token', await assertion(es, FILE, '', { aud }), CC)
      assert.equal(res.status, 200, `${JSON.stringify(aud)}: ${res.text}`)
    }
    const jwt = await assertion(es, FILE, base + '/introspect')
    const res = await withAssertion(server, '/introspect', jwt, { token: 'x' })
    assert.equal(res.status, 200, res.text)
    assertRefused(
      await withAssertion(server, '/token', await assertion(es, FILE, base + '/introspect'), CC),
      'the introspection endpoint as aud at the token endpoint',
    )
  })

  it('refuses a replayed assertion', async () => {
    const jwt = await assertion(es, FILE, issuer)
    assert.equal((await withAssertion(server, '/token', jwt, CC)).status, 200)
    assertRefused(await withAssertion(server, '/token', jwt, CC), 'replay at the token endpoint')
    assertRefused(
      await withAssertion(server, '/introspect', jwt, { token: 'x' }),
      'replay elsewhere',
    )
  })

  it('refuses assertions with wrong or missing claims', async () => {
    const t = now()
    const cases: [string, Record<string, unknown>][] = [
      ['wrong aud', { aud: 'https://elsewhere.example' }],
      ['no aud', { aud: undefined }],
      ['expired', { iat: t - 600, exp: t - 120 }],
      ['exp too far ahead', { exp: t + 3600 }],
      ['no exp', { exp: undefined }],
      ['not yet valid', { nbf: t + 600 }],
      ['no jti', { jti: undefined }],
      ['empty jti', { jti: '' }],
      ['iss other than sub', { iss: 'someone-else' }],
    ]
    for (const [what, claims] of cases) {
      assertRefused(
        await withAssertion(server, '/token', await assertion(es, FILE, issuer, claims), CC),
        what,
      )
    }
    // And the same assertion with nothing wrong passes: the cases failed for their claim alone.
    assert.equal(
      (await withAssertion(server, '/token', await assertion(es, FILE, issuer), CC)).status,
      200,
    )
  })

  it('refuses an assertion signed by another key, unsigned, or HMAC-signed with the public key', async () => {
    assertRefused(
      await withAssertion(server, '/token', await assertion(stranger, FILE, issuer), CC),
      'another key under a registered kid',
    )
    const t = now()
    const claims = { iss: FILE, sub: FILE, aud: issuer, jti: randomUUID(), iat: t, exp: t + 60 }
    const unsigned = `${b64url({ alg: 'none' })}.${b64url(claims)}.`
    assertRefused(await withAssertion(server, '/token', unsigned, CC), 'alg none')
    // Algorithm confusion: the public key's bytes (as PEM, and as its JWK) used as an HMAC secret.
    for (const secret of [await exportSPKI(es.publicKey), JSON.stringify(es.jwk)]) {
      const forged = await new SignJWT({ ...claims, jti: randomUUID() })
        .setProtectedHeader({ alg: 'HS256', kid: es.kid })
        .sign(new TextEncoder().encode(secret))
      assertRefused(
        await withAssertion(server, '/token', forged, CC),
        'HS256 keyed with the public key',
      )
    }
  })

  it('refuses mixed methods, other clients, unknown clients, and a client_id other than sub', async () => {
    // A client registered with a secret presenting an assertion (signed by a key it never registered).
    assertRefused(
      await withAssertion(server, '/token', await assertion(es, 'svc-secret', issuer), CC),
      'a secret client with an assertion',
    )
    // A private_key_jwt client presenting a secret: it has none, so any secret is made up.
    assertRefused(
      await server.post('/token', CC, [FILE, 'made-up-secret']),
      'Basic for a key client',
    )
    const post = await server.post('/token', { ...CC, client_id: FILE, client_secret: 'made-up' })
    assertRefused(post, 'client_secret_post for a key client')
    assertRefused(
      await withAssertion(server, '/token', await assertion(es, 'nobody', issuer), CC),
      'unknown client',
    )
    // Two methods at once: RFC 6749 §2.3.
    const both = await withAssertion(server, '/token', await assertion(es, FILE, issuer), CC, {
      authorization: basic(FILE, 'x'),
    })
    assert.equal(both.status, 400, both.text)
    assert.equal(both.json.error, 'invalid_request')
    const mismatch = await withAssertion(server, '/token', await assertion(es, FILE, issuer), {
      ...CC,
      client_id: 'svc-secret',
    })
    assertRefused(mismatch, 'client_id other than sub')
    const wrongType = await request(server.url + '/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...CC,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
        client_assertion: await assertion(es, FILE, issuer),
      }).toString(),
    })
    assertRefused(wrongType, 'another assertion type')
    assertRefused(await withAssertion(server, '/token', 'not.a.jwt', CC), 'junk assertion')
  })

  it('fetches keys from the key set URI, and a rotated key there once the cooldown has passed', async () => {
    const ok = await withAssertion(server, '/token', await assertion(es, URI, issuer), CC)
    assert.equal(ok.status, 200, ok.text)
    host.body = JSON.stringify({ keys: [rotated.jwk] })
    let res: HttpResponse | undefined
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      res = await withAssertion(server, '/token', await assertion(rotated, URI, issuer), CC)
      if (res.status === 200) break
      await sleep(500)
    }
    assert.equal(res?.status, 200, `the rotated key is fetched: ${res?.text}`)
    // The old key, gone from the set, no longer works.
    assertRefused(
      await withAssertion(server, '/token', await assertion(es, URI, issuer), CC),
      'a key removed from the set',
    )
  })

  it('answers invalid_client, logged, when the key set URI is down or answers junk or too much', async () => {
    for (const id of ['svc-down', 'svc-junk', 'svc-huge']) {
      assertRefused(await withAssertion(server, '/token', await assertion(es, id, issuer), CC), id)
    }
    assert.equal((await server.get('/healthz')).status, 200)
    assert.match(server.output(), /client assertion refused/)
    const ok = await withAssertion(server, '/token', await assertion(es, FILE, issuer), CC)
    assert.equal(ok.status, 200, ok.text)
  })

  it('tells a private_key_jwt resource server that the revocation feed takes Basic only', async () => {
    const jwt = await assertion(es, FILE, issuer)
    const query = new URLSearchParams({
      after: '0',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: jwt,
    })
    const res = await request(`${server.url}/revocations?${query.toString()}`)
    assertRefused(res, 'an assertion in the feed query')
    assert.match(String(res.json.error_description), /Basic only/)
    const bare = await request(`${server.url}/revocations?after=0`)
    assertRefused(bare, 'no credentials at the feed')
    assert.match(String(bare.json.error_description), /private_key_jwt/)
  })
})

describe('private_key_jwt on two nodes of one PostgreSQL database', () => {
  const ISSUER = 'http://latchkey.pkjwt.test'
  let database: TestDatabase
  let a: TestServer
  let b: TestServer
  let key: Key

  before(async () => {
    database = await createTestDatabase()
    const options = { db: database.url, args: ['--issuer', ISSUER], env: ENV }
    a = await startServer(options)
    b = await startServer(options)
    key = await newKey('ES256', 'k1')
    const file = join(a.dir, 'jwks.json')
    writeFileSync(file, JSON.stringify({ keys: [key.jwk] }))
    createClient(
      database.url,
      'svc',
      ...['--grant', 'client_credentials', '--auth-method', 'private_key_jwt', '--jwks-file', file],
    )
  })
  after(async () => {
    await Promise.all([a?.dispose(), b?.dispose()])
    await database?.drop()
  })

  it('uses an assertion once across the nodes', async () => {
    const jwt = await assertion(key, 'svc', ISSUER)
    const first = await withAssertion(a, '/token', jwt, CC)
    assert.equal(first.status, 200, first.text)
    assertRefused(await withAssertion(b, '/token', jwt, CC), 'replay on the other node')
    // Each node takes a fresh one.
    const fresh = await withAssertion(b, '/token', await assertion(key, 'svc', ISSUER), CC)
    assert.equal(fresh.status, 200, fresh.text)
  })
})
