/**
 * The Redis cache (`src/store/redis/cache.ts`) changes where hot lookups are answered, never what they
 * answer: the one conformance suite runs against a SQLite store wrapped by it, on the machine's Redis
 * under a key prefix of this run, with a revocation follower attached as in a server. Then what is
 * particular to it: what a lookup does when Redis is unreachable.
 */

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { RevocationFollower } from '../../src/server/revocation_follower.js'
import { RedisCache, type LookupResult } from '../../src/store/redis/cache.js'
import { createSqliteStore } from '../../src/store/sqlite/index.js'
import type { Store } from '../../src/store/types.js'
import { runStoreConformance } from './conformance.js'
import { NOW, client, revocation, session, token, user } from './fixtures.js'

const REDIS_URL = process.env.LATCHKEY_TEST_REDIS ?? 'redis://127.0.0.1:6379'
const PREFIX = `latchkey-test-${randomBytes(6).toString('hex')}:`
const logger = pino({ level: 'silent' })
let count = 0

/**
 * A SQLite store behind a Redis cache attached to its own follower, as `serve` does: in memory, or on
 * `file` with the key prefix `prefix` (two such stores on one file and prefix are two nodes).
 */
async function cachedStore(
  url = REDIS_URL,
  file = ':memory:',
  prefix = `${PREFIX}${++count}:`,
): Promise<{ store: Store; results: LookupResult[] }> {
  const inner = createSqliteStore(file)
  const cache = new RedisCache(url, {
    prefix,
    logger,
    secret: 'conformance secret of the cache',
    commandTimeoutMs: 500,
  })
  const results: LookupResult[] = []
  cache.onLookup = (_cache, result) => results.push(result)
  const store = cache.wrap(inner)
  const feed = new RevocationFollower(store, { pollMs: 20, logger })
  await feed.start()
  cache.attach(feed, 1000)
  Object.assign(store, {
    async close() {
      await feed.stop()
      await cache.close()
      await inner.close()
    },
  })
  return { store, results }
}

runStoreConformance(
  'sqlite through the Redis cache',
  async () => (await cachedStore()).store,
  async () => {
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys(`${PREFIX}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  },
)

describe('Redis cache', () => {
  const opened: Store[] = []
  after(async () => {
    for (const store of opened) await store.close()
  })

  it('answers from Redis after the first read, and from the store when Redis is unreachable', async () => {
    const { store, results } = await cachedStore()
    opened.push(store)
    await store.createClient(client('svc', { createdAt: NOW }))
    assert.equal((await store.getClient('svc'))?.clientId, 'svc')
    // The entry is written without waiting; give it a moment.
    for (let i = 0; i < 50 && results.at(-1) !== 'hit'; i++) {
      await new Promise((r) => setTimeout(r, 10))
      assert.equal((await store.getClient('svc'))?.clientId, 'svc')
    }
    assert.equal(results.at(-1), 'hit')

    // Nothing listens on port 1: every lookup fails over to the store.
    const down = await cachedStore('redis://127.0.0.1:1')
    opened.push(down.store)
    await down.store.createClient(client('svc', { createdAt: NOW }))
    assert.equal((await down.store.getClient('svc'))?.clientId, 'svc')
    assert.equal(await down.store.getClient('nobody'), null)
    assert.deepEqual(down.results, ['error', 'error'])
  })

  it('refuses a cached token once another node ends its session, though nobody deleted the entry', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'latchkey-redis-cache-'))
    try {
      const file = join(folder, 'shared.db')
      const prefix = `${PREFIX}two-nodes:`
      const a = await cachedStore(REDIS_URL, file, prefix)
      const b = await cachedStore(REDIS_URL, file, prefix)
      opened.push(a.store, b.store)
      const now = Math.floor(Date.now() / 1000)
      await a.store.createClient(client('web', { createdAt: now }))
      await a.store.createUser(user('u1', { createdAt: now }))
      await a.store.createSession(
        session('s1', { createdAt: now, expiresAt: now + 3600, idleExpiresAt: now + 600 }),
        null,
        null,
      )
      const live = token('h1', {
        clientId: 'web',
        sub: 'u1',
        sid: 's1',
        issuedAt: now,
        expiresAt: now + 300,
      })
      await a.store.saveToken(live)
      const deadline = Date.now() + 2000
      while (a.results.at(-1) !== 'hit') {
        assert.deepEqual(await a.store.findToken('h1', now), live)
        assert.ok(
          Date.now() < deadline,
          `A serves the token from Redis: ${a.results.slice(-5).join()}`,
        )
        // SQLite answers without I/O: let the follower's timer run.
        await new Promise((r) => setTimeout(r, 5))
      }

      // B ends the session: the token's row goes, the event names only the session.
      assert.equal(
        await b.store.revokeSession(
          's1',
          revocation('sid', 's1', { createdAt: now, expiresAt: now + 600 }),
        ),
        true,
      )
      const revoked = Date.now()
      while ((await a.store.findToken('h1', now)) !== null) {
        assert.ok(
          Date.now() - revoked < 1000,
          'A refuses it as soon as its follower reads the event',
        )
        await new Promise((r) => setTimeout(r, 5))
      }
      assert.equal(a.results.at(-1), 'stale', 'the entry is still there: A refused it')
      assert.equal(await b.store.findToken('h1', now), null, 'and on the node that revoked')
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  })
})
