/**
 * The node's copy of the revocations (`src/store/revocation_memo.ts`): it answers `isRevoked` as the
 * store does, from the events the revocation follower read (those in the store at its start
 * included), and goes back to the store while the follower cannot read it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { RevocationFollower } from '../../src/server/revocation_follower.js'
import { CacheGuard, syncingRevocations } from '../../src/store/cache_guard.js'
import { RevocationMemo, type RevocationLookup } from '../../src/store/revocation_memo.js'
import { createSqliteStore } from '../../src/store/sqlite/index.js'
import type { RevocationInput, RevocationRef, Store } from '../../src/store/types.js'

const logger = pino({ level: 'silent' })

describe('revocation memo', () => {
  const folder = mkdtempSync(join(tmpdir(), 'latchkey-revocation-memo-'))
  const file = join(folder, 'shared.db')
  const now = Math.floor(Date.now() / 1000)
  /** Another process on the same file: the CLI, or another node. */
  let other: Store
  let inner: Store
  let store: Store
  let feed: RevocationFollower
  const lookups: RevocationLookup[] = []

  function event(kind: RevocationInput['kind'], value: string, createdAt = now): RevocationInput {
    return { kind, value, clientId: 'svc', createdAt, expiresAt: now + 300 }
  }

  /** Asks the memo, checks that it answered, and that the store itself answers the same. */
  async function revoked(refs: RevocationRef[], issuedAt: number, at = now): Promise<boolean> {
    const count = lookups.length
    const answer = await store.isRevoked(refs, issuedAt, at)
    assert.deepEqual(lookups.slice(count), ['hit'])
    assert.equal(answer, await inner.isRevoked(refs, issuedAt, at), 'the store agrees')
    return answer
  }

  before(async () => {
    other = createSqliteStore(file)
    // Written before the node starts: the memo learns them from the follower's first read.
    await other.appendRevocation(event('jti', 'before-start'))
    await other.appendRevocation(event('sub', 'alice'))
    await other.appendRevocation({ ...event('jti', 'expired'), expiresAt: now - 1 })

    inner = createSqliteStore(file)
    const guard = new CacheGuard(60_000)
    const memo = new RevocationMemo(guard)
    memo.onLookup = (result) => lookups.push(result)
    store = syncingRevocations(memo.wrap(inner), guard)
    // Polls rarely, so that only an explicit read can explain what the memo knows.
    feed = new RevocationFollower(inner, { pollMs: 5000, logger })
    memo.follow(feed)
    await feed.start()
    guard.attach(feed, 10_000)
  })

  after(async () => {
    await feed.stop()
    await store.close()
    await other.close()
    rmSync(folder, { recursive: true, force: true })
  })

  it('knows the events that were in the store when the node started', async () => {
    assert.equal(await revoked([{ kind: 'jti', value: 'before-start' }], now), true)
    assert.equal(await revoked([{ kind: 'jti', value: 'never-revoked' }], now), false)
  })

  it('covers with a subject event only what was issued at or before it', async () => {
    const alice: RevocationRef[] = [
      { kind: 'jti', value: 'some-token' },
      { kind: 'sub', value: 'alice' },
    ]
    assert.equal(await revoked(alice, now - 10), true)
    assert.equal(await revoked(alice, now), true)
    assert.equal(await revoked(alice, now + 1), false)
  })

  it('does not count an event past its expiry', async () => {
    assert.equal(await revoked([{ kind: 'jti', value: 'expired' }], now - 100), false)
    assert.equal(await revoked([{ kind: 'jti', value: 'before-start' }], now, now + 301), false)
  })

  it("knows this node's revocation when the write resolves", async () => {
    await store.appendRevocation(event('sid', 'own-session'))
    assert.equal(await revoked([{ kind: 'sid', value: 'own-session' }], now), true)
  })

  it("knows another process's revocation once the follower has read it", async () => {
    await other.appendRevocation(event('kid', 'retired-key'))
    await feed.sync()
    assert.equal(await revoked([{ kind: 'kid', value: 'retired-key' }], now), true)
  })

  it('asks the store while the follower does not read it', async () => {
    await feed.stop()
    await other.appendRevocation(event('jti', 'while-stopped'))
    const count = lookups.length
    const refs = [{ kind: 'jti' as const, value: 'while-stopped' }]
    assert.equal(await store.isRevoked(refs, now, now), true)
    assert.deepEqual(lookups.slice(count), ['bypass'])
  })
})
