/**
 * The one declaration of what each store write invalidates (`src/store/invalidation.ts`): it names
 * every method of the `Store` contract (a missing one does not compile), every name in it is a method
 * of a real store, and each cache wrapper acts after exactly the writes it declares for that cache.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { CacheGuard } from '../../src/store/cache_guard.js'
import { INVALIDATES, methodsInvalidating, type StoreMethod } from '../../src/store/invalidation.js'
import { RedisCache } from '../../src/store/redis/cache.js'
import { afterRevokingWrites } from '../../src/store/revoking_writes.js'
import { createSqliteStore } from '../../src/store/sqlite/index.js'
import { TokenMemo } from '../../src/store/token_memo.js'
import type { Store } from '../../src/store/types.js'
import { TEST_REDIS_URL, testRedisPrefix } from '../helpers/redis.js'
import { NOW, revocation, token } from './fixtures.js'

/** The methods a wrapper replaces on the store it wraps (its own properties). */
function replaced(wrapped: Store): string[] {
  return Object.getOwnPropertyNames(wrapped).sort()
}

describe('store invalidation table', () => {
  const store = createSqliteStore(':memory:')
  after(() => store.close())

  it('classifies every store method; leaving one out does not compile', () => {
    const { close: _close, ...withoutClose } = INVALIDATES
    // @ts-expect-error a store method missing from the table is a compile error
    const incomplete: typeof INVALIDATES = withoutClose
    assert.ok(incomplete)
    for (const method of Object.keys(INVALIDATES) as StoreMethod[]) {
      assert.equal(typeof store[method], 'function', `${method} is a method of the SQLite store`)
    }
  })

  it('the writes that append revocation events are exactly those the revocation wrappers wrap', () => {
    assert.deepEqual(methodsInvalidating('revocations').sort(), [
      'appendRevocation',
      'deleteClient',
      'deleteUser',
      'endLogin',
      'revokeConsent',
      'revokeSession',
      'revokeToken',
      'revokeUserSessions',
    ])
    assert.deepEqual(
      replaced(afterRevokingWrites(store, () => {})),
      methodsInvalidating('revocations').sort(),
    )
  })

  it('tells a revoking wrapper whether each write appended an event', async () => {
    const appended: boolean[] = []
    const wrapped = afterRevokingWrites(store, (a) => void appended.push(a))
    await store.saveToken(token('live'))
    assert.equal(await wrapped.revokeToken('live', revocation('token', 'live')), true)
    assert.equal(await wrapped.revokeToken('unknown', revocation('token', 'unknown')), false)
    assert.deepEqual(
      await wrapped.revokeUserSessions('nobody', NOW, () => revocation('sid', 'x')),
      [],
    )
    assert.deepEqual(
      await wrapped.revokeConsent('nobody', null, NOW, () => revocation('sid', 'x')),
      { clients: [], sessions: [] },
    )
    await wrapped.appendRevocation(revocation('jti', 'j'))
    assert.deepEqual(appended, [true, false, false, false, true])
  })

  it('the token memo drops entries after exactly the writes that name a token', () => {
    const memo = new TokenMemo(new CacheGuard(60_000), 10)
    assert.deepEqual(methodsInvalidating('token'), ['revokeToken'])
    assert.deepEqual(
      replaced(memo.wrap(store)),
      [...methodsInvalidating('token'), 'findToken'].sort(),
    )
  })

  it('the Redis cache deletes entries after exactly the writes that name a token, client or keys', async () => {
    const guard = new CacheGuard(60_000)
    const cache = new RedisCache(TEST_REDIS_URL, {
      prefix: testRedisPrefix(),
      guard,
      logger: pino({ level: 'silent' }),
    })
    try {
      const writes = new Set([
        ...methodsInvalidating('token'),
        ...methodsInvalidating('client'),
        ...methodsInvalidating('keys'),
      ])
      // Besides those: the read-through lookups, and saveToken written through.
      assert.deepEqual(
        replaced(cache.wrap(store)),
        [...writes, 'findToken', 'getClient', 'listKeys', 'saveToken'].sort(),
      )
      assert.deepEqual([...writes].sort(), [
        'appendRevocation',
        'deleteClient',
        'insertKey',
        'insertKeyUnlessSigning',
        'insertNewestKey',
        'retireKey',
        'revokeToken',
        'updateClient',
      ])
    } finally {
      await cache.close()
    }
  })
})
