import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { VerifierConfigError, VerifierError } from '../errors.js'
import {
  authorizationOf,
  challenge,
  htuOf,
  MissingToken,
  readAuthorization,
  readBearerToken,
  readDpopHeader,
  realmOf,
  refusal,
  routeOf,
  settingsOf,
  type RequestParts,
} from './bearer.js'
import { expressBearerAuth, type ExpressRequestLike, type ExpressResponseLike } from './express.js'
import type { VerifiedClaims, VerifyOptions } from '../verifier.js'

describe('bearer token reading and RFC 6750 challenges', () => {
  it('reads a b64token after a case-insensitive Bearer scheme', () => {
    assert.equal(readBearerToken('Bearer abc.DEF-_~+/='), 'abc.DEF-_~+/=')
    assert.equal(readBearerToken('bearer   abc'), 'abc')
  })

  it('treats no header or another scheme as missing, and a broken Bearer header as malformed', () => {
    for (const h of [undefined, '', 'Basic YTpi', 'Token abc']) {
      assert.throws(() => readBearerToken(h), MissingToken)
    }
    for (const h of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer "x"', 'Bearer a\u00e9']) {
      assert.throws(
        () => readBearerToken(h),
        (e: unknown) =>
          e instanceof VerifierError &&
          !(e instanceof MissingToken) &&
          e.code === 'invalid_request',
      )
    }
    assert.throws(() => readBearerToken(['Bearer a', 'Bearer b']), VerifierError)
  })

  it('refuses repeated Authorization headers as invalid_request: from rawHeaders, or joined', () => {
    const raw = ['Host', 'x', 'Authorization', 'Bearer a', 'authorization', 'Bearer b']
    assert.deepEqual(authorizationOf('Bearer a', raw), ['Bearer a', 'Bearer b'])
    assert.equal(authorizationOf('Bearer a', ['Authorization', 'Bearer a']), 'Bearer a')
    assert.equal(authorizationOf('Bearer a', undefined), 'Bearer a')
    for (const h of [['Bearer a', 'Bearer b'], 'Bearer a, Bearer b', 'Basic YTpi, Bearer b']) {
      assert.throws(
        () => readBearerToken(h),
        (e: unknown) =>
          e instanceof VerifierError &&
          !(e instanceof MissingToken) &&
          e.code === 'invalid_request',
      )
    }
    // A scheme whose parameters hold commas is still just not a bearer token.
    assert.throws(() => readBearerToken('Digest username="a", realm="b"'), MissingToken)
  })

  it('builds challenges without an error code for a missing token, with one otherwise', () => {
    assert.equal(challenge(new MissingToken(), 'api'), 'Bearer realm="api"')
    const scope = new VerifierError('insufficient_scope', 'needs "more"', { scope: 'a b' })
    assert.equal(
      challenge(scope, 'api'),
      'Bearer realm="api", error="insufficient_scope", error_description="needs ?more?", scope="a b"',
    )
  })

  it('maps each code to its status, and 503 with Retry-After and no challenge', () => {
    const status = (e: VerifierError): number => refusal(e, 'api').status
    assert.equal(status(new MissingToken()), 401)
    assert.equal(status(new VerifierError('invalid_request', 'x')), 400)
    assert.equal(status(new VerifierError('invalid_token', 'x')), 401)
    assert.equal(status(new VerifierError('insufficient_scope', 'x')), 403)
    const down = refusal(
      new VerifierError('temporarily_unavailable', 'x', { retryAfter: 1 }),
      'api',
    )
    assert.equal(down.status, 503)
    assert.equal(down.headers['retry-after'], '1')
    assert.equal(down.headers['www-authenticate'], undefined)
  })

  it('answers a configuration error with 503 and a generic description, keeping its cause for the operator', () => {
    const err = new VerifierConfigError("the revocation feed refused this API's credentials (401)")
    const r = refusal(err, 'api')
    assert.equal(r.status, 503)
    assert.equal(r.body.error, 'temporarily_unavailable')
    assert.doesNotMatch(r.body.error_description, /credentials|401/)
    assert.equal(r.headers['www-authenticate'], undefined, 'the token is not blamed')
    assert.ok(r.headers['retry-after'])
  })

  it('refuses a realm that cannot be quoted', () => {
    assert.throws(() => realmOf({ realm: 'a"b' }), TypeError)
    assert.equal(realmOf(), 'api')
  })

  it('reads the DPoP scheme beside Bearer, and refuses a malformed or repeated one', () => {
    assert.deepEqual(readAuthorization('DPoP abc.def'), { scheme: 'DPoP', token: 'abc.def' })
    assert.deepEqual(readAuthorization('dpop  abc'), { scheme: 'DPoP', token: 'abc' })
    assert.deepEqual(readAuthorization('Bearer abc'), { scheme: 'Bearer', token: 'abc' })
    assert.throws(() => readAuthorization('Basic YTpi'), MissingToken)
    assert.throws(() => readAuthorization(undefined), MissingToken)
    for (const h of [
      'DPoP',
      'DPoP a b',
      'DPoP a, Bearer b',
      'Bearer a, DPoP b',
      ['DPoP a', 'DPoP a'],
    ]) {
      assert.throws(
        () => readAuthorization(h),
        (e: unknown) =>
          e instanceof VerifierError &&
          !(e instanceof MissingToken) &&
          e.code === 'invalid_request',
        String(h),
      )
    }
  })

  it('reads one DPoP header, and refuses two with invalid_dpop_proof', () => {
    assert.equal(readDpopHeader(undefined), undefined)
    assert.equal(readDpopHeader(''), undefined)
    assert.equal(readDpopHeader('a.b.c'), 'a.b.c')
    assert.equal(readDpopHeader(['a.b.c']), 'a.b.c')
    for (const h of ['a.b.c, d.e.f', ['a.b.c', 'd.e.f']]) {
      assert.throws(
        () => readDpopHeader(h),
        (e: unknown) => e instanceof VerifierError && e.code === 'invalid_dpop_proof',
      )
    }
  })

  it('builds htu from the Host header, an absolute URL, or the public base URL, without the query', () => {
    const req: RequestParts = {
      authorization: undefined,
      dpop: undefined,
      method: 'GET',
      url: '/orders/1?page=2',
      host: 'api.example:8080',
      protocol: 'http',
    }
    const plain = settingsOf()
    assert.equal(htuOf(plain, req), 'http://api.example:8080/orders/1')
    assert.equal(htuOf(plain, { ...req, protocol: 'https' }), 'https://api.example:8080/orders/1')
    assert.equal(htuOf(plain, { ...req, url: 'https://h.example/x?y' }), 'https://h.example/x')
    assert.equal(htuOf(plain, { ...req, host: undefined }), '', 'no Host, no URL')
    const proxied = settingsOf({ publicBaseUrl: 'https://API.example.com/v1/' })
    assert.equal(htuOf(proxied, req), 'https://api.example.com/v1/orders/1')
    assert.equal(
      htuOf(proxied, { ...req, url: 'http://internal:3000/orders' }),
      'https://api.example.com/v1/orders',
    )
    for (const publicBaseUrl of ['api.example.com', 'ftp://a.example', 'https://a.example/?q=1']) {
      assert.throws(() => settingsOf({ publicBaseUrl }), TypeError)
    }
    assert.throws(() => settingsOf({ dpop: 'yes' as unknown as boolean }), TypeError)
  })

  it('takes a route’s DPoP mode from its options, else the adapter’s', () => {
    const s = settingsOf()
    assert.deepEqual(routeOf(s, ['a', 'b']), { scopes: ['a', 'b'], dpop: true })
    assert.deepEqual(routeOf(s, [{ dpop: 'required' }, 'a']), { scopes: ['a'], dpop: 'required' })
    assert.deepEqual(routeOf(settingsOf({ dpop: false }), [{}]), { scopes: [], dpop: false })
  })

  it('challenges with both schemes when DPoP is on, DPoP only when required, and names algs', () => {
    const algs = 'algs="ES256 RS256 PS256 EdDSA"'
    assert.equal(
      challenge(new MissingToken(), 'api', { dpop: true }),
      `Bearer realm="api", DPoP realm="api", ${algs}`,
    )
    assert.equal(
      challenge(new MissingToken(), 'api', { dpop: 'required' }),
      `DPoP realm="api", ${algs}`,
    )
    assert.equal(challenge(new MissingToken(), 'api', { dpop: false }), 'Bearer realm="api"')
    const proof = new VerifierError('invalid_dpop_proof', 'no DPoP proof', { scheme: 'DPoP' })
    assert.equal(
      challenge(proof, 'api', { dpop: true, scheme: 'DPoP' }),
      `DPoP realm="api", error="invalid_dpop_proof", error_description="no DPoP proof", ${algs}`,
    )
    const r = refusal(proof, 'api', { dpop: true })
    assert.equal(r.status, 401)
    assert.equal(r.body.error, 'invalid_dpop_proof')
    const scope = new VerifierError('insufficient_scope', 'x', { scope: 'a' })
    assert.equal(
      challenge(scope, 'api', { dpop: true, scheme: 'DPoP' }),
      `DPoP realm="api", error="insufficient_scope", error_description="x", scope="a", ${algs}`,
    )
    assert.match(challenge(scope, 'api', { dpop: true, scheme: 'Bearer' }), /^Bearer realm/)
    const bound = new VerifierError('invalid_token', 'bound', { scheme: 'DPoP' })
    assert.match(challenge(bound, 'api', { dpop: true, scheme: 'Bearer' }), /^DPoP realm=.*algs=/)
    assert.match(challenge(bound, 'api', { dpop: false, scheme: 'Bearer' }), /^Bearer realm=/)
  })
})

describe('the Express adapter with a verifier whose caches answer', () => {
  const claims = Object.freeze({ sub: 'alice', scope: 'orders:read' }) as unknown as VerifiedClaims
  const request = (token: string): ExpressRequestLike => ({
    headers: { authorization: `Bearer ${token}`, host: 'api.example' },
    method: 'GET',
    originalUrl: '/orders',
  })
  const response = (): ExpressResponseLike & { sent?: { status: number; body: unknown } } => {
    const res: ExpressResponseLike & { sent?: { status: number; body: unknown }; code?: number } = {
      locals: {},
      status(code) {
        res.code = code
        return res
      },
      set: () => res,
      json(body) {
        res.sent = { status: res.code ?? 200, body }
      },
    }
    return res
  }
  const verifier = (cached: boolean, verified: string[]) => ({
    verify: (token: string) => {
      verified.push(token)
      return Promise.resolve(claims)
    },
    ...(cached
      ? {
          verifyCached: (token: string, options?: VerifyOptions) => {
            if (token !== 'known') return undefined
            if (options?.scopes?.includes('orders:write')) {
              throw new VerifierError('insufficient_scope', 'no', { scope: 'orders:write' })
            }
            return claims
          },
        }
      : {}),
  })

  it('goes on before the middleware returns for a cached token, and awaits verify otherwise', async () => {
    const verified: string[] = []
    const auth = expressBearerAuth(verifier(true, verified))
    let nexts = 0
    const req = request('known')
    const res = response()
    auth('orders:read')(req, res, () => nexts++)
    assert.equal(nexts, 1)
    assert.equal(req.auth, claims)
    assert.equal(res.locals.latchkey, claims)
    assert.deepEqual(verified, [])
    // Not cached: verify is called, and next comes after it settles.
    auth('orders:read')(request('other'), response(), () => nexts++)
    assert.equal(nexts, 1)
    await new Promise((r) => setImmediate(r))
    assert.equal(nexts, 2)
    assert.deepEqual(verified, ['other'])
  })

  it('answers a refusal from the cache at once, and a verifier without caches is always awaited', async () => {
    const res = response()
    expressBearerAuth(verifier(true, []))('orders:write')(request('known'), res, () =>
      assert.fail('let through'),
    )
    assert.equal(res.sent?.status, 403)
    assert.equal((res.sent?.body as { error: string }).error, 'insufficient_scope')
    const verified: string[] = []
    let nexts = 0
    expressBearerAuth(verifier(false, verified))()(request('known'), response(), () => nexts++)
    assert.equal(nexts, 0)
    await new Promise((r) => setImmediate(r))
    assert.equal(nexts, 1)
    assert.deepEqual(verified, ['known'])
  })
})
