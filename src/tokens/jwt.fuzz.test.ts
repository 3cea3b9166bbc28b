/**
 * Property-based tests of the JWT decoder shared by the server and the SDK: any string is decoded or
 * refused with `JWTInvalid`, never another error; a header and payload encoded as compact JWS come back
 * unchanged; whatever is accepted is canonical (each segment is the one base64url encoding of its
 * bytes); and a valid token changed in any one character is refused, so a token has one string.
 */
import assert from 'node:assert/strict'
import { createPrivateKey } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { decodeJWT, JWTInvalid, JWTSigner, JWTVerificationKey, verifyAccessToken } from './jwt.js'
import { generateSigningKey } from './keys.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const NOW = 1_800_000_000
const b64u = (s: string | Uint8Array): string => Buffer.from(s).toString('base64url')

const segmentish = fc.oneof(
  fc
    .array(fc.constantFrom(...ALPHABET.split(''), '=', '+', '/', ' '), { maxLength: 12 })
    .map((c) => c.join('')),
  fc.json({ maxDepth: 2 }).map(b64u),
  fc.uint8Array({ maxLength: 40 }).map(b64u),
  fc
    .record(
      { alg: fc.string(), kid: fc.oneof(fc.string(), fc.integer()), typ: fc.string() },
      { requiredKeys: [] },
    )
    .map((h) => b64u(JSON.stringify(h))),
)
const tokenish = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.array(segmentish, { minLength: 1, maxLength: 5 }).map((s) => s.join('.')),
)

const header = fc.record(
  {
    alg: fc.constantFrom('ES256', 'RS256', 'PS256', 'EdDSA', 'none', 'HS256'),
    kid: fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
    typ: fc.constantFrom('at+jwt', 'application/at+jwt', 'JWT'),
  },
  { requiredKeys: ['alg', 'kid'] },
)
const payload = fc.dictionary(
  fc.string().filter((k) => k !== '__proto__'),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 8 },
)

describe('JWT decoder properties', () => {
  it('decodes or refuses any string with JWTInvalid, nothing else', () => {
    fc.assert(
      fc.property(tokenish, (token) => {
        try {
          decodeJWT(token)
        } catch (err) {
          assert.ok(err instanceof JWTInvalid, String(err))
        }
      }),
      fuzzParameters(),
    )
  })

  it('accepts only canonical base64url: every segment is the encoding of its own bytes', () => {
    fc.assert(
      fc.property(tokenish, (token) => {
        try {
          decodeJWT(token)
        } catch {
          return
        }
        for (const segment of token.split('.')) {
          assert.equal(Buffer.from(segment, 'base64url').toString('base64url'), segment)
        }
      }),
      fuzzParameters(),
    )
  })

  it('gives back the header, payload and signature a compact JWS was built from', () => {
    fc.assert(
      fc.property(header, payload, fc.uint8Array({ minLength: 1, maxLength: 80 }), (h, p, sig) => {
        const input = `${b64u(JSON.stringify(h))}.${b64u(JSON.stringify(p))}`
        const decoded = decodeJWT(`${input}.${b64u(sig)}`)
        assert.deepEqual(decoded.header, { ...h })
        assert.deepEqual(decoded.payload, JSON.parse(JSON.stringify(p)))
        assert.equal(decoded.signingInput, input)
        assert.ok(decoded.signature.equals(Buffer.from(sig)))
      }),
      fuzzParameters(),
    )
  })

  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`refuses a valid ${alg} token changed in any one character`, async () => {
      const record = await generateSigningKey({ alg, now: NOW })
      const signer = new JWTSigner(createPrivateKey(record.privateKey), record.kid, alg)
      const key = new JWTVerificationKey(record.publicJwk, alg)
      const claims = {
        iss: 'https://as.example',
        sub: 's',
        aud: 'https://api.example',
        exp: NOW + 60,
        iat: NOW,
        jti: 'j',
        client_id: 'c',
      }
      const options = { issuer: 'https://as.example', now: NOW, leeway: 0 }
      const tokens = await Promise.all(
        [0, 1, 2].map((k) => signer.sign({ ...claims, pad: 'x'.repeat(k) })),
      )
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...tokens),
          fc.nat(),
          fc.constantFrom(...ALPHABET.split(''), '.', '=', '+'),
          async (token, at, ch) => {
            const i = at % token.length
            const changed = token.slice(0, i) + ch + token.slice(i + 1)
            fc.pre(changed !== token)
            await assert.rejects(
              verifyAccessToken(changed, () => key, options),
              JWTInvalid,
            )
          },
        ),
        fuzzParameters(),
      )
    })
  }
})
