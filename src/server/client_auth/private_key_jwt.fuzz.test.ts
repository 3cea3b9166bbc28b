/**
 * Property-based tests of reading a `private_key_jwt` client assertion (RFC 7523 §2.2) before it is
 * verified: any `client_assertion`, `client_assertion_type` and `client_id` give credentials or an
 * RFC 6749 error, never another error; a well-formed assertion names the client of its `sub`.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../../test/helpers/fuzz.js'
import { OAuthError } from '../../errors.js'
import { readClientCredentials } from './index.js'
import { CLIENT_ASSERTION_TYPE } from './private_key_jwt.js'

function isOAuthRefusal(err: unknown): boolean {
  return (
    err instanceof OAuthError &&
    (err.code === 'invalid_request' || err.code === 'invalid_client') &&
    err.status < 500
  )
}

const b64url = (value: string): string => Buffer.from(value).toString('base64url')

/** Strings shaped like JWTs: base64url segments of arbitrary (JSON or not) text. */
const jwtish = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc
    .array(fc.oneof(fc.string({ unit: 'binary' }).map(b64url), fc.json().map(b64url)), {
      maxLength: 6,
    })
    .map((parts) => parts.join('.')),
  fc
    .tuple(fc.jsonValue(), fc.string())
    .map(([sub, sig]) => `${b64url('{"alg":"ES256"}')}.${b64url(JSON.stringify({ sub }))}.${sig}`),
)

function params(entries: Record<string, string | undefined>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v
  return out
}

describe('client assertion reading properties', () => {
  it('answers any assertion parameters with credentials or an RFC 6749 error, nothing else', () => {
    fc.assert(
      fc.property(
        fc.option(jwtish, { nil: undefined }),
        fc.option(fc.oneof(fc.constant(CLIENT_ASSERTION_TYPE), fc.string()), { nil: undefined }),
        fc.option(fc.string(), { nil: undefined }),
        (assertion, type, clientId) => {
          const form = params({
            client_assertion: assertion,
            client_assertion_type: type,
            client_id: clientId,
          })
          try {
            const presented = readClientCredentials(undefined, form)
            if (assertion !== undefined || type !== undefined) {
              assert.equal(presented.method, 'private_key_jwt')
              assert.equal(presented.credential, assertion)
            }
          } catch (err) {
            assert.ok(isOAuthRefusal(err), String(err))
          }
        },
      ),
      fuzzParameters(),
    )
  })

  it('names the client of a well-formed assertion by its sub, and refuses a client_id that differs', () => {
    const id = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 40,
    })
    fc.assert(
      fc.property(id, id, (sub, other) => {
        const assertion = `${b64url('{"alg":"ES256"}')}.${b64url(JSON.stringify({ sub }))}.c2ln`
        const form = { client_assertion: assertion, client_assertion_type: CLIENT_ASSERTION_TYPE }
        const presented = readClientCredentials(undefined, params(form))
        assert.deepEqual(presented, {
          method: 'private_key_jwt',
          clientId: sub,
          credential: assertion,
        })
        assert.equal(
          readClientCredentials(undefined, params({ ...form, client_id: sub })).clientId,
          sub,
        )
        if (other !== sub) {
          assert.throws(
            () => readClientCredentials(undefined, params({ ...form, client_id: other })),
            (err) => err instanceof OAuthError && err.code === 'invalid_client',
          )
        }
      }),
      fuzzParameters(),
    )
  })

  it('refuses another assertion type, a missing half, and a second method', () => {
    const sub = 'svc'
    const assertion = `${b64url('{"alg":"ES256"}')}.${b64url(JSON.stringify({ sub }))}.c2ln`
    const code = (form: Record<string, string>, authorization?: string): string => {
      try {
        readClientCredentials(authorization, params(form))
        return 'accepted'
      } catch (err) {
        return err instanceof OAuthError ? err.code : 'crash'
      }
    }
    const saml = 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer'
    assert.equal(
      code({ client_assertion: assertion, client_assertion_type: saml }),
      'invalid_client',
    )
    assert.equal(code({ client_assertion: assertion }), 'invalid_request')
    assert.equal(code({ client_assertion_type: CLIENT_ASSERTION_TYPE }), 'invalid_request')
    const both = { client_assertion: assertion, client_assertion_type: CLIENT_ASSERTION_TYPE }
    assert.equal(code({ ...both, client_secret: 'x', client_id: sub }), 'invalid_request')
    assert.equal(code(both, 'Basic ' + Buffer.from('svc:x').toString('base64')), 'invalid_request')
    const long = { ...both, client_assertion: assertion + 'A'.repeat(9000) }
    assert.equal(code(long), 'invalid_client')
  })
})
