/**
 * Property-based tests of the SDK's local JWT check: any string is refused with `invalid_token` and
 * nothing else, and a valid token changed in any one character, or in the unused bits of a segment's
 * last character, is refused, so the SDK's cache (keyed by the string) holds one string per token.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from './testing/fuzz.js'
import { algParams, JWTVerificationKey, lowS } from './jwt.js'
import { VerifierError } from './errors.js'
import { checkJWT } from './jwt_check.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const NOW = 1_800_000_000
const ISSUER = 'https://as.example'
const AUDIENCE = 'https://api.example'

/** A compact ES256 JWS of `claims`, signed as the server signs (low `s`). */
function signES256(privateKey: KeyObject, kid: string, claims: object): string {
  const segment = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const input = `${segment({ alg: 'ES256', typ: 'at+jwt', kid })}.${segment(claims)}`
  const signature = sign('sha256', Buffer.from(input), {
    key: privateKey,
    ...algParams('ES256').options,
  })
  lowS(signature)
  return `${input}.${signature.toString('base64url')}`
}

function setUp() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const key = new JWTVerificationKey({ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }, 'ES256')
  const options = {
    issuer: ISSUER,
    audience: AUDIENCE,
    clockTolerance: 0,
    offload: false,
    key: (kid: string) => (kid === key.kid ? key : undefined),
  }
  const token = signES256(privateKey, key.kid, {
    iss: ISSUER,
    sub: 's',
    aud: AUDIENCE,
    exp: NOW + 60,
    iat: NOW,
    jti: 'j',
    client_id: 'c',
  })
  return { token, options }
}

function assertInvalidToken(err: unknown): void {
  assert.ok(err instanceof VerifierError && err.code === 'invalid_token', String(err))
}

describe('SDK JWT check properties', () => {
  it('refuses any string that is not a token it issued with invalid_token, nothing else', async () => {
    const { token, options } = setUp()
    const [h, p] = token.split('.') as [string, string]
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string().map((s) => `${h}.${p}.${s}`),
          fc
            .uint8Array({ maxLength: 80 })
            .map((b) => `${h}.${p}.${Buffer.from(b).toString('base64url')}`),
          fc
            .json()
            .map((j) => `${h}.${Buffer.from(j).toString('base64url')}.${token.split('.')[2]}`),
        ),
        async (input) => {
          fc.pre(input !== token)
          await checkJWT(input, options, () => NOW).then(
            () => assert.fail('accepted'),
            assertInvalidToken,
          )
        },
      ),
      fuzzParameters(),
    )
  })

  it('refuses a valid token changed in any one character, including unused bits', async () => {
    const { token, options } = setUp()
    await checkJWT(token, options, () => NOW)
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.constantFrom(...ALPHABET.split('')), async (at, ch) => {
        const i = at % token.length
        fc.pre(token[i] !== '.')
        const changed = token.slice(0, i) + ch + token.slice(i + 1)
        fc.pre(changed !== token)
        await checkJWT(changed, options, () => NOW).then(
          () => assert.fail(`accepted a change at ${i}`),
          assertInvalidToken,
        )
      }),
      fuzzParameters(),
    )
  })
})
