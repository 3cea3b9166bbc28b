/**
 * Property-based tests of reading client credentials from a Basic header: any header gives credentials
 * or an RFC 6749 error (`invalid_request`, `invalid_client`), never another error; credentials encoded
 * as RFC 6749 §2.3.1 says come back unchanged; and a header is accepted only when it is the canonical
 * base64 that Node's Buffer reads and writes back identically.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { OAuthError } from '../errors.js'
import { readClientCredentials } from './client_auth/index.js'

const NO_PARAMS = Object.freeze(Object.create(null) as Record<string, string>)

/** RFC 6749 §2.3.1: form-urlencode each part, join with a colon, base64. */
function basicHeader(clientId: string, secret: string): string {
  const enc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+')
  return 'Basic ' + Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')
}

function isOAuthRefusal(err: unknown): boolean {
  return (
    err instanceof OAuthError &&
    (err.code === 'invalid_request' || err.code === 'invalid_client') &&
    err.status < 500
  )
}

/** Printable ASCII (RFC 6749 VSCHAR), the characters client ids and secrets are made of. */
const vschar = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
})

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** `value` with the lowest unused bit of its last data character set, when it has one. */
function withPadBitSet(value: string): string {
  const end = value.indexOf('=')
  if (end < 0) return value
  const last = B64.indexOf(value[end - 1]!)
  return value.slice(0, end - 1) + B64[last ^ 1]! + value.slice(end)
}

const base64ish = fc
  .array(fc.constantFrom(...'ABCDEFabcdef0123456789+/=:Yy'.split('')), { maxLength: 24 })
  .map((cs) => cs.join(''))

describe('Basic credentials properties', () => {
  it('answers any Authorization header with credentials or an RFC 6749 error, nothing else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          base64ish.map((v) => `Basic ${v}`),
          fc.uint8Array({ maxLength: 40 }).map((b) => `Basic ${Buffer.from(b).toString('base64')}`),
          fc.string().map((s) => `basic ${Buffer.from(s).toString('base64')}`),
        ),
        (header) => {
          try {
            readClientCredentials(header, NO_PARAMS)
          } catch (err) {
            assert.ok(isOAuthRefusal(err), String(err))
          }
        },
      ),
      fuzzParameters(),
    )
  })

  it('reads back any printable client id and secret encoded as RFC 6749 §2.3.1 says', () => {
    fc.assert(
      fc.property(
        vschar.filter((s) => s !== ''),
        vschar,
        (clientId, secret) => {
          const presented = readClientCredentials(basicHeader(clientId, secret), NO_PARAMS)
          assert.deepEqual(presented, {
            clientId,
            credential: secret,
            method: 'client_secret_basic',
          })
        },
      ),
      fuzzParameters(),
    )
  })

  it('accepts a Basic value only when Buffer writes its bytes back as the same base64', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          base64ish,
          fc.string({ maxLength: 12 }).map((s) => Buffer.from(s).toString('base64')),
          fc.string({ maxLength: 12 }).map((s) => Buffer.from(`${s}:x`).toString('base64')),
          // The same bytes with a pad bit set: what Buffer reads alike but would not write.
          fc
            .string({ maxLength: 12 })
            .map((s) => withPadBitSet(Buffer.from(`${s}:x`).toString('base64'))),
        ),
        (value) => {
          let accepted = true
          try {
            readClientCredentials(`Basic ${value}`, NO_PARAMS)
          } catch (err) {
            assert.ok(isOAuthRefusal(err))
            accepted = false
          }
          if (accepted) assert.equal(Buffer.from(value, 'base64').toString('base64'), value)
        },
      ),
      fuzzParameters(),
    )
  })
})
