import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BoundedCache } from './bounded.js'

describe('BoundedCache', () => {
  it('drops the least recently used entry, not the oldest inserted, when full', () => {
    const cache = new BoundedCache<string, number>(2)
    cache.set('a', 1)
    cache.set('b', 2)
    assert.equal(cache.get('a'), 1)
    cache.set('c', 3)
    assert.equal(cache.get('b'), undefined, 'b was the least recently used')
    assert.equal(cache.get('a'), 1)
    assert.equal(cache.get('c'), 3)
    assert.equal(cache.size, 2)
  })

  it('never returns an entry at or after its expiry, and forgets it then', () => {
    const cache = new BoundedCache<string, string>(4)
    cache.set('k', 'v', 100)
    assert.equal(cache.get('k', 99), 'v')
    assert.equal(cache.get('k', 100), undefined)
    assert.equal(cache.size, 0)
    cache.set('forever', 'v')
    assert.equal(cache.get('forever', Number.MAX_SAFE_INTEGER), 'v')
  })

  it('keeps nothing at capacity 0 and refuses a capacity that is not a count', () => {
    const none = new BoundedCache<string, number>(0)
    none.set('a', 1)
    assert.equal(none.get('a'), undefined)
    assert.throws(() => new BoundedCache(-1), RangeError)
    assert.throws(() => new BoundedCache(1.5), RangeError)
  })

  it('keeps a key in use while a stream of new keys passes through', () => {
    const cache = new BoundedCache<string, number>(100)
    cache.set('hot', 1)
    for (let i = 0; i < 100_000; i++) {
      cache.set(`cold-${i}`, i)
      if (i % 50 === 0) assert.equal(cache.get('hot'), 1, `hot evicted after ${i} new keys`)
    }
    assert.equal(cache.size, 100)
  })
})
