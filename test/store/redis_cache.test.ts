/**
 * The Redis cache (`src/store/redis/cache.ts`) changes where hot lookups are answered, never what they
 * answer: the one conformance suite runs against a SQLite store wrapped by it, on the machine's Redis
 * under a key prefix of this run, with a revocation follower attached as in a server. Then what is
 * particular to it: what a lookup does when Redis is unreachable.
 */

import assert from 'node:assert/strict'
import { createHmac, hkdfSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { RevocationFollower } from '../../src/server/revocation_follower.js'
import { CacheGuard, syncingRevocations } from '../../src/store/cache_guard.js'
import { RedisCache, type LookupResult } from '../../src/store/redis/cache.js'
import { RevocationMemo } from '../../src/store/revocation_memo.js'
import { TokenMemo, type MemoLookup } from '../../src/store/token_memo.js'
import { createSqliteStore } from '../../src/store/sqlite/index.js'
import type { ClientRecord, Store } from '../../src/store/types.js'
import { deleteRedisKeys, TEST_REDIS_URL, testRedisPrefix } from '../helpers/redis.js'
import { runStoreConformance } from './conformance.js'
import { NOW, client, revocation, session, token, user } from './fixtures.js'

const PREFIX = testRedisPrefix()
const logger = pino({ level: 'silent' })
let count = 0

interface CachedStore {
  store: Store
  /** Results of the Redis cache's lookups (none without Redis). */
  results: LookupResult[]
  /** Results of the in-process token memo's lookups (none without it). */
  memoResults: MemoLookup[]
}

/**
 * A SQLite store behind the caches `serve` puts in front of it (the copy of the revocations, the
 * in-process token memo and, unless `url` is null, the Redis cache), guarded by its own revocation
 * follower: in memory, or on `file` with the key prefix `prefix` (two such stores on one file and
 * prefix are two nodes).
 */
async function cachedStore(
  url: string | null = TEST_REDIS_URL,
  file = ':memory:',
  prefix = `${PREFIX}${++count}:`,
  memo = true,
): Promise<CachedStore> {
  const inner = createSqliteStore(file)
  const guard = new CacheGuard(60_000)
  const cache =
    url === null
      ? undefined
      : new RedisCache(url, {
          prefix,
          guard,
          logger,
          secret: 'conformance secret of the cache',
          commandTimeoutMs: 500,
        })
  const tokens = memo ? new TokenMemo(guard, 1000) : undefined
  const results: LookupResult[] = []
  const memoResults: MemoLookup[] = []
  if (cache) cache.onLookup = (_cache, result) => results.push(result)
  if (tokens) tokens.onLookup = (result) => memoResults.push(result)
  const revocations = new RevocationMemo(guard)
  let layered: Store = inner
  if (cache) layered = cache.wrap(layered)
  if (tokens) layered = tokens.wrap(layered)
  const store = syncingRevocations(revocations.wrap(layered), guard)
  const feed = new RevocationFollower(store, { pollMs: 20, logger })
  revocations.follow(feed)
  await feed.start()
  guard.attach(feed, 1000)
  Object.assign(store, {
    async close() {
      await feed.stop()
      guard.detach()
      await cache?.close()
      await inner.close()
    },
  })
  return { store, results, memoResults }
}

runStoreConformance(
  'sqlite through the token memo and the Redis cache',
  async () => (await cachedStore()).store,
  () => deleteRedisKeys(PREFIX),
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

  it('refuses a client entry written by an older node (one audience, no auth method) and reads the store', async () => {
    const prefix = `${PREFIX}${++count}:`
    const { store, results } = await cachedStore(TEST_REDIS_URL, ':memory:', prefix)
    opened.push(store)
    const stored = client('svc', { audiences: ['https://a.example', 'https://b.example'] })
    await store.createClient(stored)
    await store.getClient('svc')
    // Rewrite the entry as a node before the audiences list would have: same MAC key, same position.
    const redis = new Redis(TEST_REDIS_URL)
    try {
      const key = `${prefix}client:svc`
      let raw: string | null = null
      for (let i = 0; i < 50 && raw === null; i++) {
        await new Promise((r) => setTimeout(r, 10))
        await store.getClient('svc')
        raw = await redis.get(key)
      }
      assert.ok(raw !== null, 'the client was cached')
      const entry = JSON.parse(raw.slice(raw.indexOf('.') + 1)) as { s: number; r: ClientRecord }
      const {
        audiences: _a,
        exchangeAudiences: _e,
        authMethod: _m,
        jwks: _j,
        jwksUri: _u,
        requirePar: _p,
        ...old
      } = entry.r
      const json = JSON.stringify({ s: entry.s, r: { ...old, audience: 'https://old.example' } })
      const mac = hkdfSync(
        'sha256',
        'conformance secret of the cache',
        '',
        'latchkey redis cache entries',
        32,
      )
      const sig = createHmac('sha256', Buffer.from(mac))
        .update(key)
        .update('\n')
        .update(json)
        .digest('base64url')
      await redis.set(key, `${sig}.${json}`, 'PX', 60_000)
    } finally {
      redis.disconnect()
    }
    results.length = 0
    assert.deepEqual(await store.getClient('svc'), stored)
    assert.deepEqual(results, ['stale'])
  })

  for (const [generation, fields] of [
    ['browser origins, display names and logos', ['allowedOrigins', 'displayName', 'logoUri']],
    ['logout URIs', ['postLogoutRedirectUris', 'backchannelLogoutUri']],
  ] as const) {
    it(`refuses a client entry written before ${generation}, and reads the store`, async () => {
      const prefix = `${PREFIX}${++count}:`
      const { store, results } = await cachedStore(TEST_REDIS_URL, ':memory:', prefix)
      opened.push(store)
      const stored = client('svc', {
        allowedOrigins: ['https://app.example'],
        displayName: 'Orders',
        logoUri: 'https://app.example/logo.png',
        postLogoutRedirectUris: ['https://app.example/bye'],
        backchannelLogoutUri: 'https://app.example/bc',
      })
      await store.createClient(stored)
      await store.getClient('svc')
      // Rewrite the entry as a node before these fields would have: same MAC key, same position.
      const redis = new Redis(TEST_REDIS_URL)
      try {
        const key = `${prefix}client:svc`
        let raw: string | null = null
        for (let i = 0; i < 50 && raw === null; i++) {
          await new Promise((r) => setTimeout(r, 10))
          await store.getClient('svc')
          raw = await redis.get(key)
        }
        assert.ok(raw !== null, 'the client was cached')
        const entry = JSON.parse(raw.slice(raw.indexOf('.') + 1)) as { s: number; r: ClientRecord }
        const old: Partial<ClientRecord> = { ...entry.r }
        for (const field of fields) delete old[field]
        const json = JSON.stringify({ s: entry.s, r: old })
        const mac = hkdfSync(
          'sha256',
          'conformance secret of the cache',
          '',
          'latchkey redis cache entries',
          32,
        )
        const sig = createHmac('sha256', Buffer.from(mac))
          .update(key)
          .update('\n')
          .update(json)
          .digest('base64url')
        await redis.set(key, `${sig}.${json}`, 'PX', 60_000)
      } finally {
        redis.disconnect()
      }
      results.length = 0
      assert.deepEqual(await store.getClient('svc'), stored)
      assert.deepEqual(results, ['stale'])
    })
  }

  for (const layer of ['redis', 'memory'] as const) {
    it(`refuses a token cached in ${layer} once another node ends its session, though nobody deleted the entry`, async () => {
      const folder = mkdtempSync(join(tmpdir(), 'latchkey-redis-cache-'))
      try {
        const file = join(folder, 'shared.db')
        const prefix = `${PREFIX}two-nodes-${layer}:`
        // Only the layer under test: Redis without the memo, or the memo without Redis.
        const url = layer === 'redis' ? TEST_REDIS_URL : null
        const a = await cachedStore(url, file, prefix, layer === 'memory')
        const b = await cachedStore(url, file, prefix, layer === 'memory')
        const results = (): readonly string[] => (layer === 'redis' ? a.results : a.memoResults)
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
        while (results().at(-1) !== 'hit') {
          assert.deepEqual(await a.store.findToken('h1', now), live)
          assert.ok(Date.now() < deadline, `A serves the token from ${layer}: ${results().join()}`)
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
        assert.equal(results().at(-1), 'stale', 'the entry was still there: A refused it')
        assert.equal(await b.store.findToken('h1', now), null, 'and on the node that revoked')
      } finally {
        rmSync(folder, { recursive: true, force: true })
      }
    })
  }

  it('drops a token revoked on this node before the revocation resolves', async () => {
    const { store, memoResults } = await cachedStore(null)
    opened.push(store)
    const now = Math.floor(Date.now() / 1000)
    const live = token('h2', { issuedAt: now, expiresAt: now + 300 })
    await store.saveToken(live)
    assert.deepEqual(await store.findToken('h2', now), live)
    assert.deepEqual(await store.findToken('h2', now), live)
    assert.deepEqual(memoResults, ['miss', 'hit'])
    assert.equal(await store.revokeToken('h2', revocation('token', 'h2')), true)
    assert.equal(await store.findToken('h2', now), null)
  })
})
