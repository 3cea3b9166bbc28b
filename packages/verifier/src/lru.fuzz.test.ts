/**
 * The expiring CLOCK cache under any sequence of sets, gets, deletions and clears: it never answers
 * with a value other than the last one set for that key, nor after its expiry, nor one a deletion
 * removed; it never holds more than its capacity; it evicts nothing while a place is free; and a key
 * read between every two new keys survives any stream of them (its second chance).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from './testing/fuzz.js'
import { ExpiringLRU } from './lru.js'

interface Entry {
  expiresAt: number
  value: number
}

// Few keys and mostly sets: keys come back often, and the ring fills and wraps in most runs.
const key = fc.integer({ min: 0, max: 7 }).map(String)
const time = fc.integer({ min: 0, max: 20 })
const op = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      key,
      value: fc.integer(),
      expiresAt: time,
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant('get' as const), key, now: time }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('deleteWhere' as const),
      parity: fc.integer({ min: 0, max: 1 }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant('prune' as const), now: time }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('clear' as const) }), weight: 1 },
)
/** A time before every expiry: looks an entry up without expiring it. */
const BEFORE_ALL = -1
const KEYS = Array.from({ length: 8 }, (_, i) => String(i))

describe('ExpiringLRU (property)', () => {
  it('answers only with live values last set, within its capacity, evicting only when full', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.array(op, { maxLength: 80 }), (cap, ops) => {
        const cache = new ExpiringLRU<Entry>(cap)
        /** The last value set for each key that no deletion has removed since. */
        const last = new Map<string, Entry>()
        const present = (): string[] => KEYS.filter((k) => cache.get(k, BEFORE_ALL) !== undefined)
        for (const o of ops) {
          if (o.kind === 'set') {
            const before = present()
            const entry = { expiresAt: o.expiresAt, value: o.value }
            cache.set(o.key, entry)
            last.set(o.key, entry)
            const after = present()
            if (cap > 0) assert.ok(after.includes(o.key), 'a key just set is there')
            if (before.length < cap || before.includes(o.key))
              assert.deepEqual(
                after,
                [...new Set([...before, o.key])].sort((a, b) => Number(a) - Number(b)),
                'nothing is evicted while a place is free',
              )
          } else if (o.kind === 'get') {
            const got = cache.get(o.key, o.now)
            if (got !== undefined) {
              assert.equal(got, last.get(o.key), 'the last value set for the key')
              assert.ok(o.now < got.expiresAt, 'not after its expiry')
            }
          } else if (o.kind === 'deleteWhere') {
            cache.deleteWhere((e) => Math.abs(e.value % 2) === o.parity)
            for (const [k, e] of last) if (Math.abs(e.value % 2) === o.parity) last.delete(k)
            for (const k of present())
              assert.notEqual(Math.abs(last.get(k)!.value % 2), o.parity, 'deleted by predicate')
          } else if (o.kind === 'prune') {
            cache.prune(o.now)
            for (const k of present()) assert.ok(o.now < last.get(k)!.expiresAt, 'pruned')
          } else {
            cache.clear()
            last.clear()
            assert.equal(cache.size, 0)
          }
          assert.ok(cache.size <= cap, 'within its capacity')
          assert.equal(cache.size, present().length)
        }
      }),
      fuzzParameters(),
    )
  })

  it('keeps a key read between every two new keys, whatever stream of new keys passes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 64 }),
        fc.integer({ min: 0, max: 500 }),
        (cap, stream) => {
          const cache = new ExpiringLRU<Entry>(cap)
          const hot = { expiresAt: Infinity, value: -1 }
          cache.set('hot', hot)
          for (let i = 0; i < stream; i++) {
            cache.set(`new-${i}`, { expiresAt: Infinity, value: i })
            assert.equal(cache.get('hot', 0), hot)
          }
          assert.ok(cache.size <= cap)
        },
      ),
      fuzzParameters(),
    )
  })
})
