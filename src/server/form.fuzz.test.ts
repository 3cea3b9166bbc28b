/**
 * Property-based tests of the form parser: any bytes give parameters or `invalid_request`, never
 * another error; within the accepted subset it agrees with the WHATWG URLSearchParams it is built on,
 * and a form encoded by URLSearchParams parses back to what was encoded.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { OAuthError } from '../errors.js'
import { MAX_FORM_PARAMETERS, parseForm, parseQuery } from './form.js'

// The characters the parser refuses, written out independently of form.ts.
const isForbidden = (c: number): boolean =>
  c <= 0x1f ||
  (c >= 0x7f && c <= 0x9f) ||
  c === 0x200e ||
  c === 0x200f ||
  (c >= 0x202a && c <= 0x202e) ||
  (c >= 0x2066 && c <= 0x2069) ||
  c === 0xfffd
const hasForbidden = (s: string): boolean => [...s].some((ch) => isForbidden(ch.codePointAt(0)!))

function isInvalidRequest(err: unknown): boolean {
  return err instanceof OAuthError && err.code === 'invalid_request' && err.status === 400
}

/** Text that looks like a form: separators, escapes, plus signs, and some of every kind of character. */
const formText = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '&',
        '=',
        '+',
        '%',
        '%2',
        '%20',
        '%00',
        '%C3%A9',
        '%ff',
        '%E2%80%AE',
        '__proto__',
      ),
      fc.string({ unit: 'grapheme-ascii', maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 3 }),
      fc.constantFrom('grant_type', 'scope', 'token', 'client_id', 'a', 'b'),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''))

/** A name or value with no forbidden character. */
const cleanString = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !hasForbidden(s))

describe('form parser properties', () => {
  it('answers any bytes with parameters or invalid_request, nothing else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          formText.map((t) => Buffer.from(t)),
        ),
        (bytes) => {
          try {
            parseForm(Buffer.from(bytes))
          } catch (err) {
            assert.ok(isInvalidRequest(err), String(err))
          }
        },
      ),
      fuzzParameters(),
    )
  })

  it('answers any query string with parameters or invalid_request, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(formText, fc.string({ unit: 'binary' })), (text) => {
        try {
          parseQuery(text)
        } catch (err) {
          assert.ok(isInvalidRequest(err), String(err))
        }
      }),
      fuzzParameters(),
    )
  })

  it('accepts exactly what URLSearchParams reads as distinct, clean, few parameters, and agrees with it', () => {
    fc.assert(
      fc.property(formText, (text) => {
        const entries = [...new URLSearchParams(text)]
        const names = entries.map(([n]) => n)
        const acceptable =
          Buffer.from(text).toString('utf8') === text &&
          entries.length <= MAX_FORM_PARAMETERS &&
          new Set(names).size === names.length &&
          !entries.some(([n, v]) => hasForbidden(n) || hasForbidden(v))
        let parsed
        try {
          parsed = parseForm(Buffer.from(text))
        } catch (err) {
          assert.ok(isInvalidRequest(err))
          assert.equal(acceptable, false, `refused ${JSON.stringify(text)}`)
          return
        }
        assert.equal(acceptable, true, `accepted ${JSON.stringify(text)}`)
        assert.deepEqual({ ...parsed }, Object.fromEntries(entries))
      }),
      fuzzParameters(),
    )
  })

  it('parses back any form URLSearchParams encodes from distinct clean parameters', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(cleanString, cleanString), {
          selector: ([name]) => name,
          maxLength: MAX_FORM_PARAMETERS,
        }),
        (pairs) => {
          const body = new URLSearchParams(pairs).toString()
          const parsed = parseForm(Buffer.from(body))
          assert.deepEqual({ ...parsed }, Object.fromEntries(pairs))
          assert.equal(Object.getPrototypeOf(parsed), null)
        },
      ),
      fuzzParameters(),
    )
  })
})
