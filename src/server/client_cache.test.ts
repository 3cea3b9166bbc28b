/**
 * The client cache against a real (SQLite) store: a client in use stays cached however many unknown
 * client ids are looked up around it, as an LRU keeps it; changes are seen after the TTL; nothing is
 * served while the store is not trusted.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, it } from 'node:test'
import fc from 'fast-check'
import { client } from '../../test/store/fixtures.js'
import { fuzzParameters } from '../../test/helpers/fuzz.js'
import { createSqliteStore } from '../store/sqlite/index.js'
import type { Store } from '../store/types.js'
import { ClientCache } from './client_cache.js'

describe('ClientCache', () => {
  let store: Store
  let reads: string[]

  beforeEach(async () => {
    const sqlite = createSqliteStore(':memory:')
    await sqlite.createClient(client('hot'))
    reads = []
    store = Object.create(sqlite) as Store
    store.getClient = (id: string) => {
      reads.push(id)
      return sqlite.getClient(id)
    }
  })
  afterEach(() => store.close())

  it('keeps a hot client while random unknown ids fill the cache many times over', async () => {
    const cache = new ClientCache(store, 60_000, 100)
    for (let i = 0; i < 5_000; i++) {
      if (i % 50 === 0) assert.equal((await cache.get('hot'))?.clientId, 'hot')
      assert.equal(await cache.get(randomUUID()), null)
    }
    assert.equal(reads.filter((id) => id === 'hot').length, 1, 'the hot client was read once')
  })

  it('evicts a client no sooner than LRU: used within the last capacity-1 other ids, it is a hit', async () => {
    const capacity = 8
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.string({ maxLength: 6 }), { maxLength: capacity - 1 }), {
          maxLength: 20,
        }),
        async (bursts) => {
          const cache = new ClientCache(store, 60_000, capacity)
          reads = []
          await cache.get('hot')
          for (const burst of bursts) {
            for (const id of burst) await cache.get(`unknown-${id}`)
            await cache.get('hot')
          }
          assert.equal(reads.filter((id) => id === 'hot').length, 1)
        },
      ),
      fuzzParameters(100),
    )
  })

  it('reads the store again after the TTL and while the store is not trusted', async () => {
    let trusted = true
    const cache = new ClientCache(store, 20, 10, () => trusted)
    await cache.get('hot')
    await cache.get('hot')
    assert.equal(reads.length, 1)
    trusted = false
    await cache.get('hot')
    assert.equal(reads.length, 2)
    trusted = true
    await new Promise((resolve) => setTimeout(resolve, 30))
    await cache.get('hot')
    assert.equal(reads.length, 3)
    cache.forget('hot')
    await cache.get('hot')
    assert.equal(reads.length, 4)
  })
})
