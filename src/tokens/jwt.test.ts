import assert from 'node:assert/strict'
import {
  constants,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { describe, it } from 'node:test'
import { SignJWT, importPKCS8, importJWK, jwtVerify } from 'jose'
import {
  ecdsaTwin,
  isLowS,
  toLowS,
  unusedBits,
  withUnusedBitSet,
} from '../../test/helpers/token_spellings.js'
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

/** An ES256 token of `header` and `payload` texts, signed outside `JWTSigner`, low S. */
function es256Token(headerText: string, payloadText: string, privateKey: KeyObject): string {
  const input = `${Buffer.from(headerText).toString('base64url')}.${Buffer.from(payloadText).toString('base64url')}`
  const sig = cryptoSign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  })
  return `${input}.${toLowS(sig).toString('base64url')}`
}

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

      let joseToken = await new SignJWT(claims({ jti: 'from-jose' }))
        .setProtectedHeader({ alg, typ: 'at+jwt', kid: record.kid })
        .sign(await importPKCS8(record.privateKey, alg))
      if (alg === 'ES256') {
        // jose leaves S as WebCrypto gives it; only the low-S form is accepted here.
        const [h, p, s] = joseToken.split('.') as [string, string, string]
        joseToken = `${h}.${p}.${toLowS(Buffer.from(s, 'base64url')).toString('base64url')}`
      }
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
      const sig = toLowS(
        cryptoSign('sha256', Buffer.from(input), { key: es.privateKey, dsaEncoding: 'ieee-p1363' }),
      )
      await assert.rejects(
        verifyAccessToken(`${input}.${sig.toString('base64url')}`, () => es.verifier, options),
        /typ/,
      )
    }
    const header = { alg: 'ES256', typ: 'application/AT+JWT', kid: es.record.kid }
    const token = es256Token(JSON.stringify(header), JSON.stringify(claims()), es.privateKey)
    await verifyAccessToken(token, () => es.verifier, options)
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

  describe('one token, one string', () => {
    it('refuses a segment with an unused bit set in its last character, in any segment', async () => {
      const es = await keyPair('ES256')
      const covered = new Set<string>()
      // JSON whitespace and a claim of 0–2 characters give the header and payload every length mod 4.
      for (const k of [0, 1, 2]) {
        const headerText = JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: es.record.kid })
        const token = es256Token(
          headerText.replace('{', `{${' '.repeat(k)}`),
          JSON.stringify(claims({ pad: 'x'.repeat(k) })),
          es.privateKey,
        )
        await verifyAccessToken(token, () => es.verifier, options)
        const parts = token.split('.')
        for (const [i, name] of ['header', 'payload', 'signature'].entries()) {
          const changed = withUnusedBitSet(parts[i]!)
          if (changed === undefined) continue
          covered.add(`${name} ${unusedBits(parts[i]!)}`)
          const spelled = parts.map((part, j) => (j === i ? changed : part)).join('.')
          assert.throws(() => decodeJWT(spelled), /canonical/, name)
          await assert.rejects(
            verifyAccessToken(spelled, () => es.verifier, options),
            JWTInvalid,
          )
        }
      }
      for (const name of ['header 2', 'header 4', 'payload 2', 'payload 4', 'signature 4']) {
        assert.ok(covered.has(name), name)
      }
    })

    it('refuses a segment of length 1 mod 4, padding, + and / and whitespace', () => {
      const h = b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k' })
      const p = b64(claims())
      const sig = Buffer.alloc(64, 7).toString('base64url')
      for (const token of [
        `${h}.${p}.${sig}AAA`,
        `${h}.${p}.${sig}==`,
        `${h}.${p}.${Buffer.alloc(64, 0xfb).toString('base64')}`,
        `${h}.${p} .${sig}`,
        `${h}.${p}.${sig}\n`,
      ]) {
        assert.throws(() => decodeJWT(token), JWTInvalid, token.slice(-8))
      }
      decodeJWT(`${h}.${p}.${sig}`)
    })

    it('signs ES256 with low S only, and jose verifies every signature', async () => {
      const { record, signer, verifier } = await keyPair('ES256')
      const publicKey = await importJWK(record.publicJwk, 'ES256')
      // Half of raw ECDSA signatures have a high S: 300 signings would all be low by chance with
      // probability 2^-300.
      for (let i = 0; i < 300; i++) {
        const token = await signer.sign(claims({ jti: `id-${i}` }))
        const signature = Buffer.from(token.split('.')[2]!, 'base64url')
        assert.ok(isLowS(signature), `signing ${i}`)
        assert.equal(
          (await verifyAccessToken(token, () => verifier, options)).claims.jti,
          `id-${i}`,
        )
        if (i % 10 === 0) await jwtVerify(token, publicKey, { currentDate: new Date(NOW * 1000) })
      }
    })

    it('refuses the n − s twin of a valid ES256 signature, which node:crypto accepts', async () => {
      const { record, signer, verifier } = await keyPair('ES256')
      const token = await signer.sign(claims())
      const [h, p, s] = token.split('.') as [string, string, string]
      const twin = ecdsaTwin(Buffer.from(s, 'base64url'))
      const key = createPublicKey({ key: record.publicJwk as JsonWebKey, format: 'jwk' })
      assert.ok(
        verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, twin),
      )
      assert.equal(verifier.verifySync(`${h}.${p}`, twin), false)
      assert.equal(await verifier.verify(`${h}.${p}`, twin), false)
      await assert.rejects(
        verifyAccessToken(`${h}.${p}.${twin.toString('base64url')}`, () => verifier, options),
        /bad signature/,
      )
    })

    for (const [alg, padding] of [
      ['RS256', constants.RSA_PKCS1_PADDING],
      ['PS256', constants.RSA_PKCS1_PSS_PADDING],
    ] as const) {
      it(`refuses an ${alg} signature with its leading zero byte removed or one more added`, async () => {
        const { privateKey, verifier } = await keyPair(alg)
        // A signature whose first byte is zero: OpenSSL accepts it without that byte for PSS.
        let input = ''
        let sig = Buffer.alloc(0)
        for (let i = 0; sig[0] !== 0; i++) {
          input = `${b64({ alg })}.${b64(claims({ jti: `j${i}` }))}`
          sig = cryptoSign('sha256', Buffer.from(input), {
            key: privateKey,
            padding,
            saltLength: 32,
          })
        }
        assert.equal(verifier.verifySync(input, sig), true)
        for (const variant of [sig.subarray(1), Buffer.concat([Buffer.from([0]), sig])]) {
          assert.equal(verifier.verifySync(input, variant), false, `${variant.length} bytes`)
          assert.equal(await verifier.verify(input, variant), false, `${variant.length} bytes`)
        }
      })
    }

    it('refuses an Ed25519 signature whose s is increased by the group order L', async () => {
      const { signer, verifier } = await keyPair('EdDSA')
      const [h, p, s] = (await signer.sign(claims())).split('.') as [string, string, string]
      const sig = Buffer.from(s, 'base64url')
      const L = (1n << 252n) + 27742317777372353535851937790883648493n
      // s is little-endian; s + L < 2^253 still fits in its 32 bytes.
      const sValue = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString('hex')}`)
      const bigger = Buffer.from((sValue + L).toString(16).padStart(64, '0'), 'hex').reverse()
      const variant = Buffer.concat([sig.subarray(0, 32), bigger])
      assert.equal(verifier.verifySync(`${h}.${p}`, sig), true)
      assert.equal(verifier.verifySync(`${h}.${p}`, variant), false)
      assert.equal(await verifier.verify(`${h}.${p}`, variant), false)
    })
  })
})
