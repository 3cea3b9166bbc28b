/**
 * Property-based tests of resource indicators (RFC 8707 §2): any `resource` value gives back exactly
 * itself or `invalid_target`, never another error; what is accepted is an absolute URI without a
 * fragment; and an audience is granted only when it is exactly one of the client's (no normalisation:
 * a trailing slash, another case, a port or a fragment is another resource).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../../test/helpers/fuzz.js'
import { client as storedClient } from '../../../test/store/fixtures.js'
import { OAuthError } from '../../errors.js'
import type { ClientRecord } from '../../store/types.js'
import { requestedAudience, resourceIndicator } from './resource.js'

const AUDIENCES = ['https://a.example/api', 'https://b.example', 'urn:example:ledger']
const DEFAULT = 'https://issuer.example'

const client = (audiences: string[]): ClientRecord =>
  storedClient('svc', { secretHash: null, scopes: [], authMethod: null, audiences, createdAt: 0 })

function isInvalidTarget(err: unknown): boolean {
  return err instanceof OAuthError && err.code === 'invalid_target' && err.status === 400
}

const uriish = fc.oneof(
  fc.webUrl({ withFragments: true, withQueryParameters: true }),
  fc.constantFrom(...AUDIENCES, DEFAULT, '', '/api', 'b.example', 'https://b.example#', 'a:b'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
)

/** A small change that makes another resource of a listed one. */
const mutation = fc.constantFrom(
  (u: string) => u + '/',
  (u: string) => u.toUpperCase(),
  (u: string) => u + '#x',
  (u: string) => u.replace('.example', '.example:443'),
  (u: string) => ` ${u}`,
  (u: string) => u + '?',
)

describe('resource indicator properties', () => {
  it('answers any resource with itself (an absolute URI, no fragment) or invalid_target', () => {
    fc.assert(
      fc.property(uriish, (resource) => {
        let got: string | undefined
        try {
          got = resourceIndicator({ resource })
        } catch (err) {
          assert.ok(isInvalidTarget(err), String(err))
          return
        }
        assert.equal(got, resource)
        assert.ok(!resource.includes('#'))
        assert.doesNotThrow(() => new URL(resource))
      }),
      fuzzParameters(),
    )
  })

  it('grants exactly a listed audience, or the default for a client without any', () => {
    fc.assert(
      fc.property(uriish, fc.boolean(), (resource, listed) => {
        const c = client(listed ? AUDIENCES : [])
        const allowed = listed ? AUDIENCES : [DEFAULT]
        try {
          assert.equal(requestedAudience({ resource }, c, DEFAULT), resource)
          assert.ok(allowed.includes(resource))
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err
          assert.ok(isInvalidTarget(err), String(err))
          assert.ok(!allowed.includes(resource))
        }
      }),
      fuzzParameters(),
    )
  })

  it('refuses every small change of a listed audience', () => {
    fc.assert(
      fc.property(fc.constantFrom(...AUDIENCES), mutation, (aud, change) => {
        const changed = change(aud)
        fc.pre(changed !== aud && !AUDIENCES.includes(changed))
        assert.throws(
          () => requestedAudience({ resource: changed }, client(AUDIENCES), DEFAULT),
          isInvalidTarget,
        )
      }),
      fuzzParameters(),
    )
  })

  it('leaves the default to the client when no resource is asked for', () => {
    assert.equal(requestedAudience({}, client(AUDIENCES), DEFAULT), undefined)
  })
})
