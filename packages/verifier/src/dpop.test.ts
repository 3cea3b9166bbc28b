/**
 * DPoP proof checks (RFC 9449 §4.3) and the replay cache, with proofs signed here on `node:crypto`:
 * each check refuses with its own reason, any string is refused with `DPoPProofError` and nothing
 * else, and a valid proof changed in any one character is refused. Proofs made by `jose` and
 * `oauth4webapi` are checked in test/e2e/verifier_dpop.test.ts (this package has no such dependency).
 */
import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from './testing/fuzz.js'
import { keyPairFor } from './testing/keys.js'
import {
  algParams,
  SIGNING_ALGS,
  type AccessTokenClaims,
  type JWK,
  type SigningAlg,
} from './jwt.js'
import { VerifierError } from './errors.js'
import { checkSender, type DPoPRequest } from './dpop_check.js'
import {
  accessTokenHash,
  checkDpopProof,
  DPoPProofError,
  DPoPReplayCache,
  jwkThumbprint,
  normalizeHtu,
  type DPoPProofReason,
} from './dpop.js'

const NOW = 1_800_000_000
const HTU = 'https://api.example/orders'
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

interface Key {
  alg: SigningAlg
  privateKey: KeyObject
  jwk: JWK
}

function keyOf(alg: SigningAlg): Key {
  const pair = keyPairFor(alg)
  return { alg, privateKey: pair.privateKey, jwk: pair.publicKey.export({ format: 'jwk' }) }
}

const segment = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

/** A proof signed by `key`, with `header` and `claims` over the defaults. */
function proofOf(key: Key, claims: Record<string, unknown> = {}, header: object = {}): string {
  const input = `${segment({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...header })}.${segment({
    jti: `j-${Math.random()}`,
    htm: 'GET',
    htu: HTU,
    iat: NOW,
    ...claims,
  })}`
  const { digest, options } = algParams(key.alg)
  const signature = sign(digest, Buffer.from(input), { key: key.privateKey, ...options })
  return `${input}.${signature.toString('base64url')}`
}

const expect = { htm: 'GET', htu: HTU, now: NOW }

function refused(proof: string, reason: DPoPProofReason, options: object = {}): void {
  assert.throws(
    () => checkDpopProof(proof, { ...expect, ...options }),
    (e: unknown) => e instanceof DPoPProofError && e.reason === reason,
    reason,
  )
}

describe('DPoP proof checks (RFC 9449 §4.3)', () => {
  const keys = (['ES256', 'RS256', 'PS256', 'EdDSA'] as const).map(keyOf)
  const es = keys[0]!

  it('accepts a proof of each algorithm and returns its key thumbprint, jti and iat', () => {
    for (const key of keys) {
      const proof = proofOf(key, { jti: 'abc' })
      const r = checkDpopProof(proof, expect)
      assert.equal(r.jkt, jwkThumbprint(key.jwk), key.alg)
      assert.equal(r.jti, 'abc')
      assert.equal(r.iat, NOW)
      assert.equal(r.alg, key.alg)
      assert.deepEqual(r.jwk, key.jwk)
    }
  })

  it('computes the RFC 7638 example thumbprint', () => {
    // RFC 7638 §3.1.
    const jwk = {
      kty: 'RSA',
      n:
        '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP' +
        'ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qv' +
        'zqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZ' +
        'u0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    }
    assert.equal(jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs')
    assert.throws(() => jwkThumbprint({ kty: 'oct', k: 'AAAA' }), TypeError)
  })

  it('compares htu without query and fragment, scheme and host case-insensitively, default port dropped', () => {
    const proof = proofOf(es, { htu: 'HTTPS://API.Example:443/orders?x=1#f' })
    checkDpopProof(proof, { ...expect, htu: 'https://api.example/orders?page=2' })
    assert.equal(normalizeHtu('http://a.example:80/x/../y?q'), 'http://a.example/y')
    assert.equal(normalizeHtu('ftp://a.example/'), undefined)
    refused(proof, 'htu', { htu: 'https://api.example/orders/1' })
    refused(proof, 'htu', { htu: 'https://api.example:8443/orders' })
    refused(proof, 'htu', { htu: 'http://api.example/orders' })
    refused(proof, 'htu', { htu: 'not a url' })
    refused(proofOf(es, { htu: 42 }), 'htu')
  })

  it('refuses another method, a stale or future iat, and a missing or long jti', () => {
    refused(proofOf(es, { htm: 'POST' }), 'htm')
    refused(proofOf(es, { htm: 'get' }), 'htm')
    checkDpopProof(proofOf(es, { iat: NOW - 60 }), expect)
    refused(proofOf(es, { iat: NOW - 61 }), 'iat')
    checkDpopProof(proofOf(es, { iat: NOW - 100 }), { ...expect, maxAgeSeconds: 120 })
    checkDpopProof(proofOf(es, { iat: NOW + 5 }), expect)
    refused(proofOf(es, { iat: NOW + 6 }), 'iat')
    refused(proofOf(es, { iat: String(NOW) }), 'iat')
    refused(proofOf(es, { jti: undefined }), 'jti')
    refused(proofOf(es, { jti: '' }), 'jti')
    refused(proofOf(es, { jti: 7 }), 'jti')
    refused(proofOf(es, { jti: 'x'.repeat(257) }), 'jti')
  })

  it('checks ath against the access token, and the nonce when one is expected', () => {
    const token = 'an.access.token'
    const bound = proofOf(es, { ath: accessTokenHash(token) })
    checkDpopProof(bound, { ...expect, accessToken: token })
    refused(bound, 'ath', { accessToken: 'another' })
    refused(proofOf(es), 'ath', { accessToken: token })
    assert.equal(accessTokenHash(token), createHash('sha256').update(token).digest('base64url'))
    const withNonce = proofOf(es, { nonce: 'n1' })
    checkDpopProof(withNonce, { ...expect, nonce: 'n1' })
    checkDpopProof(withNonce, { ...expect, nonce: ['n0', 'n1'] })
    refused(withNonce, 'nonce', { nonce: 'n2' })
    refused(proofOf(es), 'nonce', { nonce: 'n1' })
  })

  it('refuses a wrong typ, alg none, HMAC, an alg not allowed, and extra header parameters', () => {
    refused(proofOf(es, {}, { typ: 'JWT' }), 'header')
    refused(proofOf(es, {}, { typ: undefined }), 'header')
    checkDpopProof(proofOf(es, {}, { typ: 'DPoP+JWT' }), expect)
    refused(proofOf(es, {}, { kid: 'k' }), 'header')
    refused(proofOf(es, {}, { crit: ['b64'] }), 'header')
    refused(proofOf(es, {}, { jku: 'https://evil.example' }), 'header')
    // alg none: an empty signature is not even a segment; with a junk one, the alg is refused.
    const none = `${segment({ typ: 'dpop+jwt', alg: 'none', jwk: es.jwk })}.${segment({ jti: 'j', htm: 'GET', htu: HTU, iat: NOW })}`
    refused(`${none}.`, 'malformed')
    refused(`${none}.AAAA`, 'alg')
    refused(
      `${none.replace(/^[^.]+/, segment({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } }))}.AAAA`,
      'alg',
    )
    refused(proofOf(es), 'alg', { algs: ['EdDSA'] })
  })

  it('refuses a jwk with a private member, of another key type, missing, or for another alg', () => {
    const full = es.privateKey.export({ format: 'jwk' }) as JWK
    refused(proofOf(es, {}, { jwk: full }), 'jwk')
    for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
      refused(proofOf(es, {}, { jwk: { ...es.jwk, [m]: 'AAAA' } }), 'jwk')
    }
    refused(proofOf(es, {}, { jwk: undefined }), 'jwk')
    refused(proofOf(es, {}, { jwk: 'x' }), 'jwk')
    refused(proofOf(es, {}, { jwk: keys[3]!.jwk }), 'jwk')
    refused(proofOf(es, {}, { jwk: { ...es.jwk, alg: 'ES384' } }), 'jwk')
    refused(proofOf(es, {}, { jwk: { ...es.jwk, crv: 'P-384' } }), 'jwk')
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const weak: Key = {
      alg: 'RS256',
      privateKey: small.privateKey,
      jwk: small.publicKey.export({ format: 'jwk' }),
    }
    refused(proofOf(weak), 'jwk')
  })

  it('refuses a proof signed by another key than the one in its header', () => {
    const other = keyOf('ES256')
    refused(proofOf(other, {}, { jwk: es.jwk }), 'signature')
    const [h, p] = proofOf(es).split('.')
    refused(`${h}.${p}.${'A'.repeat(86)}`, 'signature')
  })

  it('accepts a high-S ES256 signature, as WebCrypto may sign', () => {
    // n − s verifies too; a proof is used once, so its spelling keys nothing.
    const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')
    const proof = proofOf(es)
    const [h, p, s] = proof.split('.') as [string, string, string]
    const sig = Buffer.from(s, 'base64url')
    const flipped = (n - BigInt(`0x${sig.subarray(32).toString('hex')}`)).toString(16)
    sig.set(Buffer.from(flipped.padStart(64, '0'), 'hex'), 32)
    checkDpopProof(`${h}.${p}.${sig.toString('base64url')}`, expect)
    checkDpopProof(proof, expect)
  })

  it('refuses any string with DPoPProofError and nothing else', () => {
    const [h, p] = proofOf(es).split('.') as [string, string]
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string().map((s) => `${h}.${p}.${s}`),
          fc.json().map((j) => `${Buffer.from(j).toString('base64url')}.${p}.AAAA`),
          fc.json().map((j) => `${h}.${Buffer.from(j).toString('base64url')}.AAAA`),
          fc
            .dictionary(fc.constantFrom('typ', 'alg', 'jwk'), fc.jsonValue())
            .map((hd) => `${segment(hd)}.${p}.AAAA`),
        ),
        (input) => {
          assert.throws(
            () => checkDpopProof(input, expect),
            (e: unknown) => e instanceof DPoPProofError,
          )
        },
      ),
      fuzzParameters(),
    )
  })

  it('refuses a valid proof changed in any one character', () => {
    const proof = proofOf(es)
    checkDpopProof(proof, expect)
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(...ALPHABET.split('')), (at, ch) => {
        const i = at % proof.length
        fc.pre(proof[i] !== '.')
        const changed = proof.slice(0, i) + ch + proof.slice(i + 1)
        fc.pre(changed !== proof)
        assert.throws(
          () => checkDpopProof(changed, expect),
          (e: unknown) => e instanceof DPoPProofError,
        )
      }),
      fuzzParameters(),
    )
  })
})

describe('DPoP replay cache', () => {
  it('refuses a jti seen before until it expires, per key, and stays bounded', () => {
    const cache = new DPoPReplayCache(3)
    const at = NOW * 1000
    assert.equal(cache.remember({ jkt: 'k1', jti: 'a' }, at + 60_000, at), true)
    assert.equal(cache.remember({ jkt: 'k1', jti: 'a' }, at + 60_000, at + 1000), false)
    assert.equal(cache.remember({ jkt: 'k2', jti: 'a' }, at + 60_000, at), true)
    assert.equal(cache.remember({ jkt: 'k1', jti: 'a' }, at + 120_000, at + 60_000), true)
    for (let i = 0; i < 10; i++) cache.remember({ jkt: 'k3', jti: `${i}` }, at + 60_000, at)
    assert.ok(cache.size <= 3)
    cache.prune(at + 200_000)
    assert.equal(cache.size, 0)
  })
})

describe('sender constraint of a verified token (RFC 9449 §7)', () => {
  const key = keyOf('ES256')
  const token = 'h.p.s'
  const jkt = jwkThumbprint(key.jwk)
  const bound = { cnf: { jkt } } as unknown as AccessTokenClaims
  const plain = {} as AccessTokenClaims
  const options = () => ({
    replays: new DPoPReplayCache(),
    algs: SIGNING_ALGS,
    now: NOW,
    maxAgeSeconds: 60,
    clockTolerance: 5,
  })
  const request = (proof: string | undefined, extra: Partial<DPoPRequest> = {}): DPoPRequest => ({
    scheme: 'DPoP',
    proof,
    htm: 'GET',
    htu: HTU,
    ...extra,
  })
  const code = (f: () => void): string => {
    try {
      f()
    } catch (e) {
      assert.ok(e instanceof VerifierError, String(e))
      return `${e.code}${e.scheme ? ` ${e.scheme}` : ''}`
    }
    return 'accepted'
  }

  it('accepts a bound token with its proof once, and refuses the replay', () => {
    const o = options()
    const proof = proofOf(key, { ath: accessTokenHash(token) })
    assert.equal(
      code(() => checkSender(token, bound, request(proof), o)),
      'accepted',
    )
    assert.equal(
      code(() => checkSender(token, bound, request(proof), o)),
      'invalid_dpop_proof DPoP',
    )
  })

  it('refuses a bound token as Bearer or without request details, and a proofless or foreign-key one', () => {
    const o = options()
    assert.equal(
      code(() => checkSender(token, bound, undefined, o)),
      'invalid_token DPoP',
    )
    assert.equal(
      code(() => checkSender(token, bound, request(undefined, { scheme: 'Bearer' }), o)),
      'invalid_token DPoP',
    )
    assert.equal(
      code(() => checkSender(token, bound, request(undefined), o)),
      'invalid_dpop_proof DPoP',
    )
    const other = keyOf('ES256')
    assert.equal(
      code(() =>
        checkSender(token, bound, request(proofOf(other, { ath: accessTokenHash(token) })), o),
      ),
      'invalid_dpop_proof DPoP',
    )
    assert.equal(
      code(() => checkSender(token, bound, request(proofOf(key)), o)),
      'invalid_dpop_proof DPoP',
      'no ath',
    )
    const mtls = { cnf: { 'x5t#S256': 'abc' } } as unknown as AccessTokenClaims
    assert.equal(
      code(() => checkSender(token, mtls, request(proofOf(key)), o)),
      'invalid_token DPoP',
    )
    assert.equal(
      code(() => checkSender(token, mtls, undefined, o)),
      'invalid_token DPoP',
    )
  })

  it('accepts a plain token as Bearer unless DPoP is required, and refuses it as DPoP', () => {
    const o = options()
    assert.equal(
      code(() => checkSender(token, plain, undefined, o)),
      'accepted',
    )
    assert.equal(
      code(() => checkSender(token, plain, request(undefined, { scheme: 'Bearer' }), o)),
      'accepted',
    )
    assert.equal(
      code(() =>
        checkSender(token, plain, request(undefined, { scheme: 'Bearer', required: true }), o),
      ),
      'invalid_token DPoP',
    )
    assert.equal(
      code(() => checkSender(token, plain, request(proofOf(key)), o)),
      'invalid_token DPoP',
    )
  })
})
