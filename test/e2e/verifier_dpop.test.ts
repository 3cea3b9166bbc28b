/**
 * DPoP (RFC 9449 §7) at a resource server: the SDK's middleware for Express, Fastify and Hono in front
 * of routes, reached over HTTP (Hono through `app.request`), with access tokens bound to a client key
 * (`cnf.jkt`). The tokens come from a small fake issuer (metadata, JWKS, introspection) and are signed
 * with the server's own `JWTSigner`; proofs are made by `jose` and by `oauth4webapi`, as clients make
 * them. Also holds the SDK's proof check to both libraries: their proofs are accepted, their
 * thumbprints are the SDK's.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { Hono } from 'hono'
import fc from 'fast-check'
import * as jose from 'jose'
import * as oauth from 'oauth4webapi'
import { createVerifier, type VerifiedClaims } from '@latchkey/verifier'
import {
  accessTokenHash,
  checkDpopProof,
  DPoPProofError,
  jwkThumbprint,
} from '@latchkey/verifier/dpop'
import { expressBearerAuth } from '@latchkey/verifier/express'
import { fastifyBearerAuth } from '@latchkey/verifier/fastify'
import { honoBearerAuth } from '@latchkey/verifier/hono'
import { JWTSigner, type AccessTokenClaims, type JWK } from '../../src/tokens/jwt.js'
import { fuzzParameters } from '../helpers/fuzz.js'

const AUDIENCE = 'https://orders.example'
const PUBLIC_BASE = 'https://api.example.com/v1'
const ALGS = 'algs="ES256 RS256 PS256 EdDSA"'
const OPAQUE_BOUND = 'opaque-bound-token-0123456789'

interface Answer {
  status: number
  challenge: string | null
  body: Record<string, unknown>
}

/** One framework's app; `url` is the origin its requests are made to (the proof's htu origin). */
interface Target {
  name: string
  url: string
  call(method: string, path: string, headers: Headers): Promise<Response>
  close(): Promise<void>
}

async function toAnswer(res: Response): Promise<Answer> {
  const text = await res.text()
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

/** A client's DPoP key pair, made by jose, and its thumbprint. */
interface ClientKey {
  privateKey: jose.CryptoKey
  publicKey: jose.CryptoKey
  jwk: jose.JWK
  jkt: string
}

async function clientKey(alg = 'ES256'): Promise<ClientKey> {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true })
  const jwk = await jose.exportJWK(publicKey)
  return { privateKey, publicKey, jwk, jkt: await jose.calculateJwkThumbprint(jwk, 'sha256') }
}

/** A proof made by jose, as a client library makes one; `claims` override the defaults. */
async function proofOf(
  key: ClientKey,
  htm: string,
  htu: string,
  accessToken: string | undefined,
  claims: Record<string, unknown> = {},
  alg = 'ES256',
): Promise<string> {
  return new jose.SignJWT({
    jti: crypto.randomUUID(),
    htm,
    htu,
    ...(accessToken === undefined ? {} : { ath: accessTokenHash(accessToken) }),
    ...claims,
  })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : undefined)
    .sign(key.privateKey)
}

describe('DPoP-bound tokens through the middleware for Fastify, Express and Hono', () => {
  let issuer: Server
  let issuerUrl: string
  let signer: JWTSigner
  let verifier: ReturnType<typeof createVerifier>
  let client: ClientKey
  const targets: Target[] = []
  const now = () => Math.floor(Date.now() / 1000)

  /** An access token of the fake issuer, bound to `jkt` when given. */
  const token = async (jkt?: string, scope = 'orders:read'): Promise<string> => {
    const claims: AccessTokenClaims = {
      iss: issuerUrl,
      sub: 'alice',
      aud: AUDIENCE,
      exp: now() + 300,
      iat: now(),
      jti: crypto.randomUUID(),
      client_id: 'app',
      scope,
    }
    if (jkt !== undefined) claims.cnf = { jkt }
    return signer.sign(claims)
  }

  before(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    signer = new JWTSigner(privateKey, 'k1', 'ES256')
    const jwk = {
      ...(publicKey.export({ format: 'jwk' }) as JWK),
      kid: 'k1',
      alg: 'ES256',
      use: 'sig',
    }
    client = await clientKey()
    issuer = createServer((req, res) => {
      const path = new URL(req.url ?? '/', issuerUrl).pathname
      const json = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      if (path === '/.well-known/oauth-authorization-server') {
        return json({
          issuer: issuerUrl,
          jwks_uri: `${issuerUrl}/jwks`,
          introspection_endpoint: `${issuerUrl}/introspect`,
        })
      }
      if (path === '/jwks') return json({ keys: [jwk] })
      if (path === '/introspect') {
        let body = ''
        req.on('data', (c: Buffer) => (body += c.toString()))
        req.on('end', () => {
          const active = new URLSearchParams(body).get('token') === OPAQUE_BOUND
          json(
            active
              ? {
                  active: true,
                  token_type: 'DPoP',
                  iss: issuerUrl,
                  aud: AUDIENCE,
                  sub: 'alice',
                  client_id: 'app',
                  scope: 'orders:read',
                  exp: now() + 300,
                  cnf: { jkt: client.jkt },
                }
              : { active: false },
          )
        })
        return
      }
      res.writeHead(404).end()
    })
    await new Promise<void>((ok) => issuer.listen(0, '127.0.0.1', ok))
    issuerUrl = `http://127.0.0.1:${(issuer.address() as AddressInfo).port}`
    verifier = createVerifier({
      issuer: issuerUrl,
      audience: AUDIENCE,
      clientId: 'api',
      clientSecret: 'api-secret-api-secret',
      revocationFeed: false,
    })
    await verifier.ready()

    // Fastify: claims on request.latchkey.
    const f: FastifyInstance = Fastify()
    const fAuth = fastifyBearerAuth(verifier, { realm: 'orders' })
    const fProxied = fastifyBearerAuth(verifier, { realm: 'orders', publicBaseUrl: PUBLIC_BASE })
    fAuth.decorate(f)
    const fReply = (request: { latchkey: VerifiedClaims | null }) => ({
      sub: request.latchkey?.sub,
    })
    f.get('/orders', { preHandler: fAuth.require('orders:read') }, fReply)
    f.post('/orders', { preHandler: fAuth.require('orders:read') }, fReply)
    f.get('/strict', { preHandler: fAuth.require({ dpop: 'required' }) }, fReply)
    f.get('/proxied', { preHandler: fProxied.require() }, fReply)
    await f.listen({ port: 0, host: '127.0.0.1' })
    const fUrl = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`
    targets.push({
      name: 'fastify',
      url: fUrl,
      call: (method, path, headers) => fetch(fUrl + path, { method, headers }),
      close: () => f.close(),
    })

    // Express: claims on res.locals.latchkey.
    const e = express()
    const eAuth = expressBearerAuth(verifier, { realm: 'orders' })
    const eProxied = expressBearerAuth(verifier, { realm: 'orders', publicBaseUrl: PUBLIC_BASE })
    const eReply = (_req: unknown, res: express.Response) => {
      res.json({ sub: (res.locals.latchkey as VerifiedClaims).sub })
    }
    e.get('/orders', eAuth('orders:read'), eReply)
    e.post('/orders', eAuth('orders:read'), eReply)
    e.get('/strict', eAuth({ dpop: 'required' }), eReply)
    e.get('/proxied', eProxied(), eReply)
    const eServer = await new Promise<Server>((resolve) => {
      const s = e.listen(0, '127.0.0.1', () => resolve(s))
    })
    const eUrl = `http://127.0.0.1:${(eServer.address() as AddressInfo).port}`
    targets.push({
      name: 'express',
      url: eUrl,
      call: (method, path, headers) => fetch(eUrl + path, { method, headers }),
      close: () =>
        new Promise((resolve) => {
          eServer.closeAllConnections()
          eServer.close(() => resolve())
        }),
    })

    // Hono: claims as c.get('auth'), through app.request with an absolute URL.
    const h = new Hono<{ Variables: { auth: VerifiedClaims } }>()
    const hAuth = honoBearerAuth(verifier, { realm: 'orders' })
    const hProxied = honoBearerAuth(verifier, { realm: 'orders', publicBaseUrl: PUBLIC_BASE })
    h.get('/orders', hAuth('orders:read'), (c) => c.json({ sub: c.get('auth').sub }))
    h.post('/orders', hAuth('orders:read'), (c) => c.json({ sub: c.get('auth').sub }))
    h.get('/strict', hAuth({ dpop: 'required' }), (c) => c.json({ sub: c.get('auth').sub }))
    h.get('/proxied', hProxied(), (c) => c.json({ sub: c.get('auth').sub }))
    const hUrl = 'http://hono.test'
    targets.push({
      name: 'hono',
      url: hUrl,
      call: async (method, path, headers) => h.request(hUrl + path, { method, headers }),
      close: () => Promise.resolve(),
    })
  })

  after(async () => {
    for (const t of targets) await t.close()
    verifier.close()
    await new Promise<void>((ok) => {
      issuer.closeAllConnections()
      issuer.close(() => ok())
    })
  })

  /** Calls `path` of `t` with `Authorization: scheme token` and, when given, one DPoP header each. */
  async function call(
    t: Target,
    method: string,
    path: string,
    authorization: string | undefined,
    ...proofs: string[]
  ): Promise<Answer> {
    const headers = new Headers()
    if (authorization !== undefined) headers.set('authorization', authorization)
    for (const p of proofs) headers.append('dpop', p)
    return toAnswer(await t.call(method, path, headers))
  }

  function assertProofRefused(res: Answer, what: string): void {
    assert.equal(res.status, 401, what)
    assert.equal(res.body.error, 'invalid_dpop_proof', what)
    assert.match(
      res.challenge ?? '',
      new RegExp(
        `^DPoP realm="orders", error="invalid_dpop_proof", error_description="[^"]+", ${ALGS}$`,
      ),
      what,
    )
  }

  it('lets a bound token with a good proof through, for GET and POST', async () => {
    const at = await token(client.jkt)
    for (const t of targets) {
      for (const method of ['GET', 'POST']) {
        const proof = await proofOf(client, method, `${t.url}/orders`, at)
        const res = await call(t, method, '/orders', `DPoP ${at}`, proof)
        assert.equal(res.status, 200, `${t.name} ${method}: ${JSON.stringify(res.body)}`)
        assert.equal(res.body.sub, 'alice')
      }
      // The scheme is case-insensitive; the query is not part of htu.
      const proof = await proofOf(client, 'GET', `${t.url}/orders`, at)
      const res = await call(t, 'GET', '/orders?page=2', `dpop ${at}`, proof)
      assert.equal(res.status, 200, `${t.name}: query and scheme case`)
    }
  })

  it('refuses a bound token whose proof is missing, by another key, for another URL or method, stale, future, or for another token', async () => {
    const at = await token(client.jkt)
    const other = await clientKey()
    for (const t of targets) {
      const url = `${t.url}/orders`
      const cases: [string, string[]][] = [
        ['missing', []],
        ['another key', [await proofOf(other, 'GET', url, at)]],
        ['another URL', [await proofOf(client, 'GET', `${t.url}/strict`, at)]],
        ['another host', [await proofOf(client, 'GET', 'http://elsewhere.test/orders', at)]],
        ['another method', [await proofOf(client, 'POST', url, at)]],
        ['stale', [await proofOf(client, 'GET', url, at, { iat: now() - 120 })]],
        ['future', [await proofOf(client, 'GET', url, at, { iat: now() + 120 })]],
        ['another token', [await proofOf(client, 'GET', url, await token(client.jkt))]],
        ['no ath', [await proofOf(client, 'GET', url, undefined)]],
        ['junk', ['not-a-proof']],
        [
          'two DPoP headers',
          [await proofOf(client, 'GET', url, at), await proofOf(client, 'GET', url, at)],
        ],
      ]
      for (const [what, proofs] of cases) {
        assertProofRefused(
          await call(t, 'GET', '/orders', `DPoP ${at}`, ...proofs),
          `${t.name}: ${what}`,
        )
      }
    }
  })

  it('refuses a replayed proof', async () => {
    const at = await token(client.jkt)
    for (const t of targets) {
      const proof = await proofOf(client, 'GET', `${t.url}/orders`, at)
      assert.equal((await call(t, 'GET', '/orders', `DPoP ${at}`, proof)).status, 200, t.name)
      assertProofRefused(await call(t, 'GET', '/orders', `DPoP ${at}`, proof), `${t.name}: replay`)
    }
  })

  it('refuses a bound token sent as a bearer token with invalid_token and a DPoP challenge', async () => {
    const at = await token(client.jkt)
    for (const t of targets) {
      const proof = await proofOf(client, 'GET', `${t.url}/orders`, at)
      for (const proofs of [[], [proof]]) {
        const res = await call(t, 'GET', '/orders', `Bearer ${at}`, ...proofs)
        assert.equal(res.status, 401, t.name)
        assert.equal(res.body.error, 'invalid_token', t.name)
        assert.match(
          res.challenge ?? '',
          new RegExp(`^DPoP realm="orders", error="invalid_token", .*${ALGS}$`),
        )
      }
    }
  })

  it('keeps plain bearer tokens working, refuses them as DPoP, and on a DPoP-only route', async () => {
    const plain = await token()
    const bound = await token(client.jkt)
    for (const t of targets) {
      const ok = await call(t, 'GET', '/orders', `Bearer ${plain}`)
      assert.equal(ok.status, 200, t.name)
      const asDpop = await call(
        t,
        'GET',
        '/orders',
        `DPoP ${plain}`,
        await proofOf(client, 'GET', `${t.url}/orders`, plain),
      )
      assert.equal(asDpop.status, 401, t.name)
      assert.equal(asDpop.body.error, 'invalid_token', t.name)
      const strict = await call(t, 'GET', '/strict', `Bearer ${plain}`)
      assert.equal(strict.status, 401, t.name)
      assert.equal(strict.body.error, 'invalid_token')
      assert.match(strict.challenge ?? '', /^DPoP realm="orders", error="invalid_token"/)
      const strictBound = await call(
        t,
        'GET',
        '/strict',
        `DPoP ${bound}`,
        await proofOf(client, 'GET', `${t.url}/strict`, bound),
      )
      assert.equal(strictBound.status, 200, `${t.name}: ${JSON.stringify(strictBound.body)}`)
    }
  })

  it('challenges a request without a token with both schemes, or DPoP alone on a DPoP-only route', async () => {
    for (const t of targets) {
      const res = await call(t, 'GET', '/orders', undefined)
      assert.equal(res.status, 401, t.name)
      assert.equal(res.challenge, `Bearer realm="orders", DPoP realm="orders", ${ALGS}`)
      const strict = await call(t, 'GET', '/strict', undefined)
      assert.equal(strict.status, 401, t.name)
      assert.equal(strict.challenge, `DPoP realm="orders", ${ALGS}`)
    }
  })

  it('behind a proxy, checks htu against the public base URL rather than the Host header', async () => {
    const at = await token(client.jkt)
    for (const t of targets) {
      const good = await proofOf(client, 'GET', `${PUBLIC_BASE}/proxied`, at)
      const res = await call(t, 'GET', '/proxied', `DPoP ${at}`, good)
      assert.equal(res.status, 200, `${t.name}: ${JSON.stringify(res.body)}`)
      const local = await proofOf(client, 'GET', `${t.url}/proxied`, at)
      assertProofRefused(await call(t, 'GET', '/proxied', `DPoP ${at}`, local), t.name)
    }
  })

  it('holds an introspected opaque token to its cnf.jkt', async () => {
    for (const t of targets) {
      const proof = await proofOf(client, 'GET', `${t.url}/orders`, OPAQUE_BOUND)
      const res = await call(t, 'GET', '/orders', `DPoP ${OPAQUE_BOUND}`, proof)
      assert.equal(res.status, 200, `${t.name}: ${JSON.stringify(res.body)}`)
      const bearer = await call(t, 'GET', '/orders', `Bearer ${OPAQUE_BOUND}`)
      assert.equal(bearer.body.error, 'invalid_token', t.name)
      assertProofRefused(await call(t, 'GET', '/orders', `DPoP ${OPAQUE_BOUND}`), t.name)
    }
  })

  it('accepts requests made by oauth4webapi with its DPoP handle', async () => {
    const keyPair = await oauth.generateKeyPair('ES256')
    const dpop = oauth.DPoP({}, keyPair)
    const at = await token(await dpop.calculateThumbprint())
    for (const t of targets) {
      for (const method of ['GET', 'POST']) {
        const res = await oauth.protectedResourceRequest(
          at,
          method,
          new URL(`${t.url}/orders?x=1`),
          new Headers(),
          null,
          {
            DPoP: dpop,
            [oauth.allowInsecureRequests]: true,
            // Hono is reached in process; the others over HTTP.
            [oauth.customFetch]: (url, init) =>
              t.name === 'hono'
                ? t.call(
                    init.method,
                    new URL(url).pathname + new URL(url).search,
                    new Headers(init.headers),
                  )
                : fetch(url, init),
          },
        )
        assert.equal(res.status, 200, `${t.name} ${method}: ${await res.clone().text()}`)
      }
    }
  })
})

describe('the SDK proof check against jose and oauth4webapi', () => {
  it('accepts proofs made by jose with each algorithm, with the thumbprint jose computes', async () => {
    for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA']) {
      const key = await clientKey(alg)
      const at = 'an-access-token'
      const proof = await proofOf(key, 'PUT', 'https://api.example/x', at, {}, alg)
      const r = checkDpopProof(proof, {
        htm: 'PUT',
        htu: 'https://api.example/x',
        accessToken: at,
        now: Math.floor(Date.now() / 1000),
      })
      assert.equal(r.jkt, key.jkt, alg)
      assert.equal(jwkThumbprint(key.jwk as JWK), key.jkt, alg)
    }
  })

  it('accepts the proofs oauth4webapi attaches, and refuses them for another request', async () => {
    const keyPair = await oauth.generateKeyPair('ES256')
    const dpop = oauth.DPoP({}, keyPair)
    const proofs: string[] = []
    await oauth.protectedResourceRequest(
      'tok',
      'DELETE',
      new URL('https://api.example/a/b?c=d'),
      new Headers(),
      null,
      {
        DPoP: dpop,
        [oauth.customFetch]: (_url, init) => {
          proofs.push(new Headers(init.headers).get('dpop') ?? '')
          return Promise.resolve(new Response(null, { status: 204 }))
        },
      },
    )
    const now = Math.floor(Date.now() / 1000)
    const expect = { htm: 'DELETE', htu: 'https://api.example/a/b', accessToken: 'tok', now }
    const r = checkDpopProof(proofs[0]!, expect)
    assert.equal(r.jkt, await dpop.calculateThumbprint())
    for (const wrong of [
      { htm: 'GET' },
      { htu: 'https://api.example/a' },
      { accessToken: 'other' },
      { now: now + 3600 },
      { now: now - 3600 },
    ]) {
      assert.throws(() => checkDpopProof(proofs[0]!, { ...expect, ...wrong }), DPoPProofError)
    }
  })

  it('for any method, URL and jti, accepts a jose proof for that request and refuses it for another', async () => {
    const key = await clientKey()
    const now = Math.floor(Date.now() / 1000)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'X-CUSTOM'),
        fc.webUrl({ withQueryParameters: true, withFragments: true }),
        fc.string({ minLength: 1, maxLength: 64 }),
        async (htm, htu, jti) => {
          const proof = await proofOf(key, htm, htu, 'at', { jti })
          const r = checkDpopProof(proof, { htm, htu, accessToken: 'at', now })
          assert.equal(r.jti, jti)
          assert.equal(r.jkt, key.jkt)
          assert.throws(
            () =>
              checkDpopProof(proof, {
                htm,
                htu: `${htu.split(/[?#]/)[0]}x/y`,
                accessToken: 'at',
                now,
              }),
            (e: unknown) => e instanceof DPoPProofError && e.reason === 'htu',
          )
          assert.throws(
            () => checkDpopProof(proof, { htm: `${htm}X`, htu, accessToken: 'at', now }),
            (e: unknown) => e instanceof DPoPProofError && e.reason === 'htm',
          )
        },
      ),
      fuzzParameters(100),
    )
  })

  it('gives the thumbprint jose computes for any EC, RSA and OKP public key, whatever its extra members', async () => {
    const keys = await Promise.all(
      ['ES256', 'ES256', 'RS256', 'EdDSA'].map(async (alg) =>
        jose.exportJWK((await jose.generateKeyPair(alg, { extractable: true })).publicKey),
      ),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...keys),
        fc.dictionary(
          fc.constantFrom('kid', 'use', 'alg', 'key_ops', 'ext', 'x5t'),
          fc.jsonValue(),
        ),
        async (jwk, extra) => {
          const withExtra = { ...extra, ...jwk }
          assert.equal(
            jwkThumbprint(withExtra as JWK),
            await jose.calculateJwkThumbprint(withExtra, 'sha256'),
          )
        },
      ),
      fuzzParameters(100),
    )
  })

  it('refuses alg none, HS256, a private key in the header and a missing jti in jose-made proofs', async () => {
    const key = await clientKey()
    const now = Math.floor(Date.now() / 1000)
    const expect = { htm: 'GET', htu: 'https://api.example/', now }
    const claims = { jti: 'j', htm: 'GET', htu: 'https://api.example/' }
    const unsecured = new jose.UnsecuredJWT(claims).setIssuedAt().encode()
    const reason = (proof: string): string => {
      try {
        checkDpopProof(proof, expect)
        return 'accepted'
      } catch (e) {
        assert.ok(e instanceof DPoPProofError, String(e))
        return e.reason
      }
    }
    assert.equal(reason(unsecured), 'malformed')
    const hs = await new jose.SignJWT(claims)
      .setProtectedHeader({
        alg: 'HS256',
        typ: 'dpop+jwt',
        jwk: { kty: 'oct', k: 'c2VjcmV0' } as jose.JWK,
      })
      .setIssuedAt()
      .sign(new TextEncoder().encode('secret-secret-secret-secret-secret'))
    assert.equal(reason(hs), 'alg')
    const privateJwk = await jose.exportJWK(key.privateKey)
    const leaked = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: privateJwk })
      .setIssuedAt()
      .sign(key.privateKey)
    assert.equal(reason(leaked), 'jwk')
    const noJti = await new jose.SignJWT({ htm: 'GET', htu: 'https://api.example/' })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
      .setIssuedAt()
      .sign(key.privateKey)
    assert.equal(reason(noJti), 'jti')
    const good = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
      .setIssuedAt()
      .sign(key.privateKey)
    assert.equal(reason(good), 'accepted')
    const [h, p, s] = good.split('.') as [string, string, string]
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, htu: 'https://evil.example/', iat: now })).toString('base64url')}.${s}`
    assert.equal(reason(tampered), 'signature')
    assert.equal(reason(`${h}.${p}`), 'malformed')
  })
})
