import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { VerifierConfigError, VerifierError } from '../errors.js'
import {
  authorizationOf,
  challenge,
  MissingToken,
  readBearerToken,
  realmOf,
  refusal,
} from './bearer.js'

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
})
