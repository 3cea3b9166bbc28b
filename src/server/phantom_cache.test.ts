import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RevocationEvent, RevocationKind } from '../store/types.js'
import { MIN_REMAINING_SECONDS, PhantomCache, type PhantomEntry } from './phantom_cache.js'

const NOW = 1_000_000

function entry(n: number, extra: Partial<PhantomEntry> = {}): PhantomEntry {
  return {
    jwt: `jwt-${n}`,
    exp: NOW + 120,
    aud: 'https://api.example',
    kid: 'k1',
    covers: [`token:h${n}`, `jti:j${n}`, `sub:u${n % 2}`, `client:c${n}`, 'kid:k1', `sid:s${n}`],
    ...extra,
  }
}

let seq = 0
function event(kind: RevocationKind, value: string): RevocationEvent {
  return { seq: ++seq, kind, value, clientId: null, createdAt: NOW, expiresAt: NOW + 600 }
}

describe('PhantomCache', () => {
  it('answers only for the same audience and key, with enough life left', () => {
    const cache = new PhantomCache(10)
    cache.set('h1', entry(1))
    assert.equal(cache.get('h1', 'https://api.example', 'k1', NOW), 'jwt-1')
    assert.equal(cache.get('h1', 'https://other.example', 'k1', NOW), undefined)
    assert.equal(cache.get('h1', 'https://api.example', 'k2', NOW), undefined)
    assert.equal(
      cache.get('h1', 'https://api.example', 'k1', NOW + 121 - MIN_REMAINING_SECONDS),
      undefined,
    )
    assert.equal(cache.get('h2', 'https://api.example', 'k1', NOW), undefined)
  })

  it('drops what a revocation event names: the token, its jti, session, user, client or key', () => {
    const cache = new PhantomCache(10)
    for (let n = 1; n <= 6; n++) cache.set(`h${n}`, entry(n))
    cache.forget([event('token', 'h1')])
    assert.equal(cache.get('h1', 'https://api.example', 'k1', NOW), undefined)
    cache.forget([event('jti', 'j2'), event('sid', 's3')])
    assert.equal(cache.get('h2', 'https://api.example', 'k1', NOW), undefined)
    assert.equal(cache.get('h3', 'https://api.example', 'k1', NOW), undefined)
    assert.equal(cache.get('h4', 'https://api.example', 'k1', NOW), 'jwt-4')
    cache.forget([event('client', 'c4')])
    assert.equal(cache.get('h4', 'https://api.example', 'k1', NOW), undefined)
    // sub:u1 covers h5 (and h1, h3, gone already); h6 is u0's.
    cache.forget([event('sub', 'u1')])
    assert.equal(cache.get('h5', 'https://api.example', 'k1', NOW), undefined)
    assert.equal(cache.get('h6', 'https://api.example', 'k1', NOW), 'jwt-6')
    cache.forget([event('kid', 'k1')])
    assert.equal(cache.size, 0)
  })

  it('keeps at most its capacity', () => {
    const cache = new PhantomCache(3)
    for (let n = 1; n <= 10; n++) cache.set(`h${n}`, entry(n))
    assert.equal(cache.size, 3)
    assert.equal(cache.get('h10', 'https://api.example', 'k1', NOW), 'jwt-10')
  })
})
