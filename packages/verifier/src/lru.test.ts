import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ExpiringLRU } from './lru.js'

describe('expiring LRU cache', () => {
  it('returns live entries and drops one at its expiry', () => {
    const c = new ExpiringLRU<{ expiresAt: number; v: number }>(10)
    c.set('a', { expiresAt: 100, v: 1 })
    assert.equal(c.get('a', 99)?.v, 1)
    assert.equal(c.get('a', 100), undefined)
    assert.equal(c.size, 0)
  })

  it('stays within its capacity, evicting an entry not used lately before one that was', () => {
    const c = new ExpiringLRU<{ expiresAt: number }>(3)
    for (const k of ['a', 'b', 'c']) c.set(k, { expiresAt: Infinity })
    c.get('a', 0)
    c.set('d', { expiresAt: Infinity })
    assert.equal(c.size, 3)
    assert.notEqual(c.get('a', 0), undefined)
    assert.equal(c.get('b', 0), undefined)
    for (let i = 0; i < 100; i++) c.set(`k${i}`, { expiresAt: Infinity })
    assert.equal(c.size, 3)
  })

  it('deletes entries by predicate and holds nothing at capacity 0', () => {
    const c = new ExpiringLRU<{ expiresAt: number; v: number }>(10)
    for (let v = 0; v < 6; v++) c.set(String(v), { expiresAt: Infinity, v })
    assert.equal(
      c.deleteWhere((e) => e.v % 2 === 0),
      3,
    )
    assert.equal(c.size, 3)
    const none = new ExpiringLRU<{ expiresAt: number }>(0)
    none.set('a', { expiresAt: Infinity })
    assert.equal(none.size, 0)
  })
})
