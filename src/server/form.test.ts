import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { OAuthError } from '../errors.js'
import { checkFormContentType, MAX_FORM_PARAMETERS, parseForm } from './form.js'

const parse = (body: string | Buffer) =>
  parseForm(typeof body === 'string' ? Buffer.from(body) : body)

function refuses(body: string | Buffer): void {
  assert.throws(
    () => parse(body),
    (err: unknown) =>
      err instanceof OAuthError && err.code === 'invalid_request' && err.status === 400,
  )
}

describe('form bodies', () => {
  it('decodes parameters, with + as space and percent-encoded UTF-8', () => {
    const params = parse('grant_type=client_credentials&scope=read+write&name=J%C3%BCrgen')
    assert.equal(params.grant_type, 'client_credentials')
    assert.equal(params.scope, 'read write')
    assert.equal(params.name, 'Jürgen')
  })

  it('refuses a repeated parameter (RFC 6749 §3.1)', () => refuses('scope=a&scope=b'))

  it('answers a repeated resource or audience with invalid_target (RFC 8707 §2)', () => {
    for (const body of [
      'resource=https://a.example&resource=https://b.example',
      'audience=a&audience=b',
    ]) {
      assert.throws(
        () => parse(body),
        (err: unknown) =>
          err instanceof OAuthError &&
          (err.code as string) === 'invalid_target' &&
          err.status === 400,
      )
    }
  })

  it('refuses invalid UTF-8, raw or percent-encoded', () => {
    refuses(Buffer.from([0x61, 0x3d, 0xff, 0xfe]))
    refuses('a=%ff')
    refuses('a=%C3')
  })

  it('refuses control and bidirectional-override characters', () => {
    for (const value of ['%00', '%0d%0a', '%09', '%7f', '%E2%80%AE', '%E2%81%A6'])
      refuses(`a=x${value}y`)
    refuses('a%00b=1')
  })

  it(`refuses more than ${MAX_FORM_PARAMETERS} parameters`, () => {
    const many = Array.from({ length: MAX_FORM_PARAMETERS + 1 }, (_, i) => `p${i}=1`).join('&')
    refuses(many)
    parse(Array.from({ length: MAX_FORM_PARAMETERS }, (_, i) => `p${i}=1`).join('&'))
  })

  it('treats __proto__ and constructor as plain names', () => {
    const params = parse('__proto__=x&constructor=y')
    assert.equal(params.__proto__, 'x')
    assert.equal(params.constructor, 'y')
    assert.equal(Object.getPrototypeOf(params), null)
  })
})

describe('form content type', () => {
  it('accepts the form media type in any case, alone or with charset=utf-8, plain or quoted', () => {
    for (const type of [
      'application/x-www-form-urlencoded',
      'APPLICATION/X-WWW-FORM-URLENCODED',
      'application/x-www-form-urlencoded; charset=utf-8',
      'application/x-www-form-urlencoded;charset=UTF-8',
      'application/x-www-form-urlencoded ; charset="utf-8" ',
    ]) {
      checkFormContentType(type)
    }
  })

  it('refuses another charset, any other parameter, a repeated charset and junk with 400', () => {
    for (const type of [
      undefined,
      '',
      'application/x-www-form-urlencoded; charset=utf-16',
      'application/x-www-form-urlencoded; charset=utf8',
      'application/x-www-form-urlencoded; charset=utf-8; charset=utf-8',
      'application/x-www-form-urlencoded; boundary=x',
      'application/x-www-form-urlencoded;',
      'application/x-www-form-urlencoded, application/json',
      'application/x-www-form-urlencodedx',
      'application/json',
    ]) {
      assert.throws(
        () => checkFormContentType(type),
        (err: unknown) => err instanceof OAuthError && err.code === 'invalid_request',
        String(type),
      )
    }
  })
})
