import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { createSqliteStore } from '../store/sqlite/index.js'
import type { RevocationStore } from '../store/types.js'
import { RevocationFollower } from './revocation_follower.js'

const logger = pino({ level: 'silent' })
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A follower on a store whose feed reads fail while `fail(true)`. */
function flakyFollower(pollMs: number) {
  const store = createSqliteStore(':memory:')
  let failing = false
  const flaky: RevocationStore = Object.create(store) as RevocationStore
  flaky.listRevocations = (after, limit) =>
    failing ? Promise.reject(new Error('connection refused')) : store.listRevocations(after, limit)
  const follower = new RevocationFollower(flaky, { pollMs, logger })
  return { store, follower, fail: (on: boolean) => (failing = on) }
}

describe('revocation follower', () => {
  it('hands the events already in the store to listeners subscribed before its start', async () => {
    const store = createSqliteStore(':memory:')
    const now = Math.floor(Date.now() / 1000)
    const event = { clientId: null, createdAt: now, expiresAt: now + 60 }
    await store.appendRevocation({ kind: 'jti', value: 'a', ...event })
    await store.appendRevocation({ kind: 'sid', value: 'b', ...event })
    const follower = new RevocationFollower(store, { pollMs: 5000, logger })
    const seen: string[] = []
    follower.subscribe({ onEvents: (es) => seen.push(...es.map((e) => e.value)), onError() {} })
    try {
      await follower.start()
      assert.deepEqual(seen, ['a', 'b'])
      assert.equal(follower.head, 2)
    } finally {
      await follower.stop()
      await store.close()
    }
  })

  it('goes stale as soon as a read fails, and fresh again after the next read that succeeds', async () => {
    const { store, follower, fail } = flakyFollower(5000)
    try {
      await follower.start()
      fail(true)
      await follower.sync()
      // Long before its last good read is 10 s old.
      assert.equal(follower.isFresh(10_000), false)
      fail(false)
      await follower.sync()
      assert.equal(follower.isFresh(10_000), true)
    } finally {
      await follower.stop()
      await store.close()
    }
  })

  it('goes stale when it cannot read the store, even if the wall clock is set back', async () => {
    const { store, follower, fail } = flakyFollower(20)
    const realNow = Date.now
    try {
      await follower.start()
      assert.equal(follower.isFresh(200), true)
      fail(true)
      // An operator or NTP steps the clock back ten minutes while the store is unreachable.
      Date.now = () => realNow() - 600_000
      await sleep(300)
      assert.equal(follower.isFresh(200), false)
      fail(false)
      Date.now = realNow
      await follower.sync()
      assert.equal(follower.isFresh(200), true)
    } finally {
      Date.now = realNow
      await follower.stop()
      await store.close()
    }
  })
})
