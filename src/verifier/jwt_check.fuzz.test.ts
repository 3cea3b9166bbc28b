/**
 * Property-based tests of the SDK's local JWT check: any string is refused with `invalid_token` and
 * nothing else, and a valid token changed in any one character, or in the unused bits of a segment's
 * last character, is refused, so the SDK's cache (keyed by the string) holds one string per token.
 */
import assert from 'node:assert/strict'
import { createPrivateKey } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { JWTSigner, JWTVerificationKey } from '../tokens/jwt.js'
import { generateSigningKey } from '../tokens/keys.js'
import { VerifierError } from './errors.js'
import { checkJWT } from './jwt_check.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const NOW = 1_800_000_000
const ISSUER = 'https://as.example'
const AUDIENCE = 'https://api.example'

async function setUp() {
  const record = await generateSigningKey({ alg: 'ES256', now: NOW })
  const signer = new JWTSigner(createPrivateKey(record.privateKey), record.kid, 'ES256')
  const key = new JWTVerificationKey(record.publicJwk, 'ES256')
  const options = {
    issuer: ISSUER,
    audience: AUDIENCE,
    clockTolerance: 0,
    offload: false,
    key: (kid: string) => (kid === key.kid ? key : undefined),
  }
  const token = await signer.sign({
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
    const { token, options } = await setUp()
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
    const { token, options } = await setUp()
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
