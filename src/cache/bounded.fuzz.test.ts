/**
 * The bounded cache against a model: any sequence of gets, sets (with or without expiry), deletes and
 * deletions by predicate leaves it answering exactly as a plain array kept in recency order, cut to
 * `capacity` from the least recently used end, would.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { BoundedCache } from './bounded.js'

interface ModelEntry {
  key: number
  value: number
  expiresAt: number | undefined
}

/** The obvious, slow LRU: entries least recently used first. */
class Model {
  entries: ModelEntry[] = []
  constructor(private readonly capacity: number) {}

  get(key: number, now: number | undefined): number | undefined {
    const i = this.entries.findIndex((e) => e.key === key)
    if (i < 0) return undefined
    const [entry] = this.entries.splice(i, 1)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== undefined && now !== undefined && now >= entry.expiresAt)
      return undefined
    this.entries.push(entry)
    return entry.value
  }

  set(key: number, value: number, expiresAt: number | undefined): void {
    this.entries = this.entries.filter((e) => e.key !== key)
    this.entries.push({ key, value, expiresAt })
    while (this.entries.length > this.capacity) this.entries.shift()
  }

  delete(key: number): boolean {
    const before = this.entries.length
    this.entries = this.entries.filter((e) => e.key !== key)
    return this.entries.length < before
  }

  deleteWhere(matches: (value: number) => boolean): number {
    const before = this.entries.length
    this.entries = this.entries.filter((e) => !matches(e.value))
    return before - this.entries.length
  }
}

const key = fc.integer({ min: 0, max: 12 })
const time = fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined })
const op = fc.oneof(
  fc.record({ kind: fc.constant('get' as const), key, now: time }),
  fc.record({
    kind: fc.constant('set' as const),
    key,
    value: fc.integer(),
    expiresAt: time,
  }),
  fc.record({ kind: fc.constant('delete' as const), key }),
  fc.record({ kind: fc.constant('deleteWhere' as const), parity: fc.integer({ min: 0, max: 1 }) }),
)

describe('BoundedCache (property)', () => {
  it('answers every get, set and delete as an exact LRU model does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.array(op, { maxLength: 80 }), (cap, ops) => {
        const cache = new BoundedCache<number, number>(cap)
        const model = new Model(cap)
        for (const o of ops) {
          if (o.kind === 'get') assert.equal(cache.get(o.key, o.now), model.get(o.key, o.now))
          else if (o.kind === 'set') {
            cache.set(o.key, o.value, o.expiresAt)
            model.set(o.key, o.value, o.expiresAt)
          } else if (o.kind === 'delete') assert.equal(cache.delete(o.key), model.delete(o.key))
          else {
            const matches = (v: number): boolean => Math.abs(v % 2) === o.parity
            assert.equal(cache.deleteWhere(matches), model.deleteWhere(matches))
          }
          assert.deepEqual(
            cache.keys(),
            model.entries.map((e) => e.key),
          )
          assert.ok(cache.size <= cap)
        }
      }),
      fuzzParameters(),
    )
  })
})
