import assert from 'node:assert/strict'
import { createPrivateKey, sign as cryptoSign } from 'node:crypto'
import { describe, it } from 'node:test'
import { SignJWT, importPKCS8, importJWK, jwtVerify } from 'jose'
import type { SigningAlg } from '../store/types.js'
import {
  JWTInvalid,
  JWTSigner,
  JWTVerificationKey,
  checkClaims,
  decodeJWT,
  verifyAccessToken,
  type AccessTokenClaims,
} from './jwt.js'
import { generateSigningKey } from './keys.js'

const NOW = 1_800_000_000
const ISSUER = 'https://as.example'

function claims(overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  return {
    iss: ISSUER,
    sub: 'svc',
    aud: 'https://api.example',
    exp: NOW + 300,
    iat: NOW,
    jti: 'id-1',
    client_id: 'svc',
    scope: 'read',
    ...overrides,
  }
}

async function keyPair(alg: SigningAlg) {
  const record = await generateSigningKey({ alg, now: NOW })
  const privateKey = createPrivateKey(record.privateKey)
  return {
    record,
    privateKey,
    signer: new JWTSigner(privateKey, record.kid, alg),
    verifier: new JWTVerificationKey(record.publicJwk, alg),
  }
}

const options = { issuer: ISSUER, now: NOW, leeway: 5 }
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

describe('JWT access tokens on node:crypto', () => {
  for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA'] as const) {
    it(`signs ${alg} tokens that jose verifies, and verifies tokens jose signs`, async () => {
      const { record, signer, verifier } = await keyPair(alg)
      const token = await signer.sign(claims())
      const publicKey = await importJWK(record.publicJwk, alg)
      const { payload, protectedHeader } = await jwtVerify(token, publicKey, {
        issuer: ISSUER,
        typ: 'at+jwt',
        algorithms: [alg],
        currentDate: new Date(NOW * 1000),
      })
      assert.equal(protectedHeader.kid, record.kid)
      assert.equal(payload.client_id, 'svc')

      const joseToken = await new SignJWT(claims({ jti: 'from-jose' }))
        .setProtectedHeader({ alg, typ: 'at+jwt', kid: record.kid })
        .sign(await importPKCS8(record.privateKey, alg))
      const verified = await verifyAccessToken(joseToken, () => verifier, options)
      assert.equal(verified.claims.jti, 'from-jose')
      assert.equal(verified.kid, record.kid)
    })
  }

  it('takes the algorithm from the key: a token naming another algorithm is refused', async () => {
    const es = await keyPair('ES256')
    const token = await es.signer.sign(claims())
    const [, p, s] = token.split('.')
    for (const alg of ['RS256', 'HS256', 'none', 'ES384']) {
      const forged = `${b64({ alg, typ: 'at+jwt', kid: es.record.kid })}.${p}.${s}`
      await assert.rejects(
        verifyAccessToken(forged, () => es.verifier, options),
        JWTInvalid,
      )
    }
  })

  it('refuses an all-zero ECDSA signature (CVE-2022-21449)', async () => {
    const es = await keyPair('ES256')
    const [h, p] = (await es.signer.sign(claims())).split('.')
    const zero = Buffer.alloc(64).toString('base64url')
    await assert.rejects(
      verifyAccessToken(`${h}.${p}.${zero}`, () => es.verifier, options),
      /bad signature/,
    )
  })

  it('refuses a signature from another key of the same algorithm', async () => {
    const a = await keyPair('ES256')
    const b = await keyPair('ES256')
    const token = await b.signer.sign(claims())
    const [, p, s] = token.split('.')
    const relabelled = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: a.record.kid })}.${p}.${s}`
    await assert.rejects(
      verifyAccessToken(relabelled, () => a.verifier, options),
      /bad signature/,
    )
  })

  it('accepts only alg, kid and typ in the header', () => {
    const body = b64(claims())
    for (const extra of [
      { jwk: {} },
      { jku: 'https://x' },
      { x5u: 'https://x' },
      { crit: ['exp'] },
      { b64: false },
      { x5c: [] },
      { enc: 'A128GCM' },
    ]) {
      const header = b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k', ...extra })
      assert.throws(() => decodeJWT(`${header}.${body}.AAAA`), JWTInvalid)
    }
  })

  it('refuses kids that are not short URL-safe strings', () => {
    const body = b64(claims())
    for (const kid of ['../../etc/passwd', "' OR 1=1 --", 'k'.repeat(129), 7, { a: 1 }, null, '']) {
      const header = b64({ alg: 'ES256', typ: 'at+jwt', kid })
      assert.throws(() => decodeJWT(`${header}.${body}.AAAA`), JWTInvalid)
    }
  })

  it('refuses anything but three non-empty base64url segments, and very long input at once', () => {
    for (const token of ['a.b', 'a.b.c.d', 'a.b.c.d.e', 'a..c', '.b.c', 'a.b.', 'a+b.c.d', '']) {
      assert.throws(() => decodeJWT(token), JWTInvalid)
    }
    const started = process.hrtime.bigint()
    assert.throws(() => decodeJWT('a'.repeat(10_000_000)), /too long/)
    assert.ok(process.hrtime.bigint() - started < 50_000_000n)
  })

  it('requires typ at+jwt (RFC 9068 §4)', async () => {
    const es = await keyPair('ES256')
    for (const typ of [undefined, 'JWT', 'jwt', 'id_token+jwt']) {
      const header = b64(
        typ === undefined
          ? { alg: 'ES256', kid: es.record.kid }
          : { alg: 'ES256', typ, kid: es.record.kid },
      )
      const input = `${header}.${b64(claims())}`
      const sig = cryptoSign('sha256', Buffer.from(input), {
        key: es.privateKey,
        dsaEncoding: 'ieee-p1363',
      })
      await assert.rejects(
        verifyAccessToken(`${input}.${sig.toString('base64url')}`, () => es.verifier, options),
        /typ/,
      )
    }
    const header = b64({ alg: 'ES256', typ: 'application/AT+JWT', kid: es.record.kid })
    const input = `${header}.${b64(claims())}`
    const sig = cryptoSign('sha256', Buffer.from(input), {
      key: es.privateKey,
      dsaEncoding: 'ieee-p1363',
    })
    await verifyAccessToken(`${input}.${sig.toString('base64url')}`, () => es.verifier, options)
  })

  it('checks iss, exp, iat, nbf, aud and the required claims', () => {
    const bad: Record<string, unknown>[] = [
      { iss: 'https://evil.example' },
      { iss: undefined },
      { exp: '1900000000' },
      { exp: Number.NaN },
      { exp: -1 },
      { exp: 1e308 },
      { exp: NOW - 6 },
      { iat: NOW + 60 },
      { iat: 'now' },
      { nbf: NOW + 60 },
      { sub: undefined },
      { jti: 42 },
      { client_id: undefined },
      { aud: [] },
      { aud: [1] },
      { scope: ['read'] },
      { sid: 5 },
    ]
    for (const overrides of bad) {
      const payload = { ...claims(), ...overrides } as Record<string, unknown>
      assert.throws(() => checkClaims(payload, options), JWTInvalid, JSON.stringify(overrides))
    }
    assert.throws(
      () => checkClaims({ ...claims() }, { ...options, audience: 'https://other' }),
      /aud/,
    )
    checkClaims(
      { ...claims(), aud: ['https://other', 'https://api.example'] },
      { ...options, audience: 'https://api.example' },
    )
    // Within the leeway, and exactly at exp with no leeway.
    checkClaims({ ...claims(), exp: NOW - 4 }, options)
    assert.throws(
      () => checkClaims({ ...claims(), exp: NOW }, { ...options, expLeeway: 0 }),
      /expired/,
    )
    checkClaims({ ...claims(), exp: NOW + 1 }, { ...options, expLeeway: 0 })
  })
})
