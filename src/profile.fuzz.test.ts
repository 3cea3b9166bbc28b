/**
 * Property-based tests of what a profile may hold: any string is an address or not without throwing,
 * and one accepted has no space, control or non-ASCII character, one `@`-separated domain of labels,
 * and fits the length limits; a name accepted has no control or format character and no surrounding
 * space. Claims released by scope: only those set, `sub` never.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../test/helpers/fuzz.js'
import { isDisplayName, isEmail, MAX_EMAIL_LENGTH, NO_PROFILE, profileClaims } from './profile.js'

const emailChar = fc.constantFrom(
  ...'aZ09.@-+_\'"() ,;:<>[]\\\t\n'.split(''),
  'é',
  '\u0000',
  '\u202e',
)
const emailish = fc.oneof(
  fc.array(emailChar, { maxLength: 40 }).map((cs) => cs.join('')),
  fc.emailAddress(),
  fc.string({ unit: 'binary', maxLength: 40 }),
)

describe('profile values', () => {
  it('accepts an address only when it is printable ASCII with one @ and a dotted domain', () => {
    fc.assert(
      fc.property(emailish, (email) => {
        if (!isEmail(email)) return
        assert.match(email, /^[\x21-\x7e]+$/)
        assert.ok(email.length <= MAX_EMAIL_LENGTH)
        const [local, domain, ...rest] = email.split('@')
        assert.equal(rest.length, 0)
        assert.ok(local && local.length <= 64 && !local.startsWith('.') && !local.endsWith('.'))
        assert.ok(domain && !domain.includes('..') && !/^[.-]|[.-]$/.test(domain))
      }),
      fuzzParameters(),
    )
  })

  it('accepts the usual addresses and refuses the usual mistakes', () => {
    for (const ok of ['a@b', 'alice@example.com', "o'neil+x@mail.example.co.uk", 'a.b-c@x-y.z']) {
      assert.ok(isEmail(ok), ok)
    }
    for (const bad of ['', 'a', '@b', 'a@', 'a@@b', 'a b@c', 'a.@b', 'a..b@c', 'a@b..c', 'a@-b']) {
      assert.ok(!isEmail(bad), bad)
    }
  })

  it('accepts a name only without control or format characters or surrounding spaces', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 220 }), (name) => {
        if (!isDisplayName(name)) return
        assert.ok(name.length > 0 && [...name].length <= 200)
        assert.equal(name, name.trim())
        assert.doesNotMatch(name, /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u)
      }),
      fuzzParameters(),
    )
    assert.ok(isDisplayName('Zoë O’Neil 李'))
    assert.ok(!isDisplayName('a\u200bb'))
    assert.ok(!isDisplayName('\ud800'))
  })

  it('releases by scope only the claims that are set, never sub', () => {
    const full = {
      email: 'a@b.c',
      emailVerified: true,
      name: 'A B',
      givenName: 'A',
      familyName: null,
    }
    assert.deepEqual(profileClaims(full, ['openid']), {})
    assert.deepEqual(profileClaims(full, ['openid', 'profile']), { name: 'A B', given_name: 'A' })
    assert.deepEqual(profileClaims(full, ['email']), { email: 'a@b.c', email_verified: true })
    assert.deepEqual(profileClaims(NO_PROFILE, ['openid', 'profile', 'email']), {})
  })
})
