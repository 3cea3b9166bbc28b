import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { OAuthError } from '../errors.js'
import { checkSingleHeaders, repeatedHeader } from './headers.js'

describe('headers that must be single', () => {
  it('names the first security-relevant header given twice, in any letter case', () => {
    assert.equal(repeatedHeader(['Authorization', 'a', 'AUTHORIZATION', 'b']), 'authorization')
    assert.equal(
      repeatedHeader(['Host', 'h', 'Content-Type', 'x', 'content-type', 'y']),
      'content-type',
    )
    for (const name of ['Host', 'Cookie', 'Content-Length', 'Transfer-Encoding', 'DPoP']) {
      assert.equal(repeatedHeader([name, '1', 'Accept', '*/*', name, '2']), name.toLowerCase())
    }
  })

  it('lets other headers repeat, and each single header appear once', () => {
    const raw = [
      'Host',
      'h',
      'Accept',
      'a',
      'Accept',
      'b',
      'X-Forwarded-For',
      '1',
      'x-forwarded-for',
      '2',
    ]
    assert.equal(repeatedHeader([...raw, 'Authorization', 'x', 'Cookie', 'c']), undefined)
    checkSingleHeaders(raw)
  })

  it('throws 400 invalid_dpop_proof for a repeated DPoP header (RFC 9449 §4.3)', () => {
    assert.throws(
      () => checkSingleHeaders(['DPoP', 'a.b.c', 'dpop', 'd.e.f']),
      (err: unknown) =>
        err instanceof OAuthError && err.code === 'invalid_dpop_proof' && err.status === 400,
    )
  })

  it('throws 400 invalid_request for a repeated one', () => {
    assert.throws(
      () => checkSingleHeaders(['Cookie', 'a=1', 'Cookie', 'b=2']),
      (err: unknown) =>
        err instanceof OAuthError && err.code === 'invalid_request' && err.status === 400,
    )
  })
})
