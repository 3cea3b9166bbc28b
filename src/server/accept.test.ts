import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { acceptsMediaType } from './accept.js'

const JWT = 'application/token-introspection+jwt'

describe('acceptsMediaType', () => {
  it('says yes when the type is listed, alone, among others, in any case, with a weight above zero', () => {
    for (const accept of [
      JWT,
      'Application/Token-Introspection+JWT',
      `application/json, ${JWT}`,
      `application/json;q=1, ${JWT};q=0.1`,
      `${JWT} ; q=0.5`,
      `${JWT};charset=utf-8;q=1.000`,
      `text/html,${JWT};Q=0.001`,
    ]) {
      assert.equal(acceptsMediaType(accept, JWT), true, accept)
    }
  })

  it('says no without the header, for wildcards, other types, a zero weight or a malformed one', () => {
    assert.equal(acceptsMediaType(undefined, JWT), false)
    for (const accept of [
      '',
      '*/*',
      'application/*',
      'application/json',
      'application/jwt',
      `${JWT}x`,
      `${JWT};q=0`,
      `${JWT};q=0.000`,
      `${JWT};q=2`,
      `${JWT};q=0.0001`,
      `${JWT};q=`,
      `${JWT};q=abc`,
      `application/json;profile="${JWT}"`,
    ]) {
      assert.equal(acceptsMediaType(accept, JWT), false, accept)
    }
  })

  it('never throws, and says yes exactly when a listed range is the type with a positive weight', () => {
    const range = fc.oneof(
      fc.constantFrom(JWT, 'application/json', '*/*', ' ' + JWT.toUpperCase() + ' '),
      fc.string(),
    )
    const q = fc.option(fc.constantFrom('0', '0.5', '1', '1.0', '2', 'x', ''), { nil: undefined })
    const entry = fc.tuple(range, q)
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 5 }), (entries) => {
        const header = entries.map(([r, w]) => (w === undefined ? r : `${r};q=${w}`)).join(',')
        const expected = entries.some(
          ([r, w]) =>
            !r.includes(',') &&
            !r.includes(';') &&
            r.trim().toLowerCase() === JWT &&
            (w === undefined || w === '0.5' || w === '1' || w === '1.0'),
        )
        // A generated range holding ',' or ';' is split by the parser into other ranges: only compare
        // when none does.
        if (entries.every(([r]) => !r.includes(',') && !r.includes(';'))) {
          assert.equal(acceptsMediaType(header, JWT), expected, header)
        } else {
          acceptsMediaType(header, JWT)
        }
      }),
      fuzzParameters(),
    )
  })
})
