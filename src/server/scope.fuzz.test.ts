/**
 * Property-based tests of scope parsing (RFC 6749 §3.3): any string gives scope-tokens or
 * `invalid_scope`; parsing what formatting a parse gives changes nothing (parse ∘ format ∘ parse =
 * parse); a list of distinct tokens survives format then parse; grants never exceed what is allowed.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { OAuthError } from '../errors.js'
import { grantScope, isScopeToken, parseScope } from './scope.js'

const format = (tokens: readonly string[]): string => tokens.join(' ')

const scopeChar = fc.constantFrom(...'!#[]~azAZ09:._-/"\\ \t'.split(''), 'é', '\u0000')
const scopeish = fc.oneof(
  fc.array(scopeChar, { maxLength: 30 }).map((cs) => cs.join('')),
  fc.string({ unit: 'binary', maxLength: 30 }),
)
const token = fc
  .array(
    fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x22 && c !== 0x5c),
    {
      minLength: 1,
      maxLength: 10,
    },
  )
  .map((cs) => String.fromCharCode(...cs))

function isInvalidScope(err: unknown): boolean {
  return err instanceof OAuthError && err.code === 'invalid_scope' && err.status === 400
}

describe('scope properties', () => {
  it('answers any string with scope-tokens or invalid_scope, and parse ∘ format ∘ parse = parse', () => {
    fc.assert(
      fc.property(scopeish, (value) => {
        let tokens: string[]
        try {
          tokens = parseScope(value)
        } catch (err) {
          assert.ok(isInvalidScope(err), String(err))
          return
        }
        assert.ok(tokens.length > 0 && tokens.every(isScopeToken))
        assert.equal(new Set(tokens).size, tokens.length)
        assert.deepEqual(parseScope(format(tokens)), tokens)
      }),
      fuzzParameters(),
    )
  })

  it('formats and parses back any list of distinct scope-tokens unchanged', () => {
    fc.assert(
      fc.property(fc.uniqueArray(token, { minLength: 1, maxLength: 8 }), (tokens) => {
        assert.deepEqual(parseScope(format(tokens)), tokens)
      }),
      fuzzParameters(),
    )
  })

  it('grants a subset of what is allowed, or refuses with invalid_scope', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(token, { maxLength: 5 }),
        fc.option(fc.oneof(scopeish, fc.array(token, { minLength: 1, maxLength: 4 }).map(format)), {
          nil: undefined,
        }),
        (allowed, requested) => {
          try {
            const granted = grantScope(requested, allowed)
            assert.ok(granted.every((s) => allowed.includes(s)))
          } catch (err) {
            assert.ok(isInvalidScope(err), String(err))
          }
        },
      ),
      fuzzParameters(),
    )
  })
})
