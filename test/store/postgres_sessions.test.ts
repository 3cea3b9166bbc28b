/**
 * PostgreSQL-specific races, beyond the conformance suite: two stores (two pools, as two nodes
 * would have) on one database, with real parallel calls. Single-use things are consumed once,
 * rotation and the end of a session never deadlock nor leave a token behind, and the revocation
 * feed is never read out of order.
 */

import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { StoreUnavailableError } from '../../src/errors.js'
import { createPostgresStore } from '../../src/store/postgres/index.js'
import type { RotateOutcome, Store } from '../../src/store/types.js'
import { NOW, code, refresh, revocation, session } from './fixtures.js'
import { createTestDatabase, type TestDatabase } from './postgres_databases.js'

describe('postgres store: races between two nodes', () => {
  let database: TestDatabase
  let a: Store
  let b: Store
  const nodes = () => [a, b] as const

  before(async () => {
    database = await createTestDatabase()
  })
  beforeEach(async () => {
    await database.reset()
    a = await createPostgresStore(database.url, { poolSize: 8 })
    b = await createPostgresStore(database.url, { poolSize: 8 })
  })
  afterEach(async () => {
    await Promise.all([a.close(), b.close()])
  })
  after(() => database.drop())

  it('redeems a code once when 20 redemptions race across two stores', async () => {
    await a.saveCode(code('c1'))
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => nodes()[i % 2]!.redeemCode('c1', NOW + 1 + (i % 3))),
    )
    const won = results.filter((r) => r?.outcome === 'redeemed')
    const replayed = results.filter((r) => r?.outcome === 'replayed')
    assert.equal(won.length, 1)
    assert.equal(replayed.length, 19)
    assert.ok(replayed.every((r) => r?.code.usedAt === won[0]?.code.usedAt))
  })

  it('rotates a refresh token once when 20 rotations race across two stores: one lineage', async () => {
    const s = session('s1')
    await a.createSession(s, refresh('rt1', s), null)
    const successors = Array.from({ length: 20 }, (_, i) => refresh(`next-${i}`, s))
    const outcomes: RotateOutcome[] = await Promise.all(
      successors.map((next, i) =>
        nodes()[i % 2]!.rotateRefreshToken(
          'rt1',
          next,
          `sealed-${next.hash}`,
          NOW + 900,
          NOW + 1.25,
        ),
      ),
    )

    const won = outcomes.flatMap((o) => (o.outcome === 'rotated' ? [o.previous] : []))
    const reused = outcomes.flatMap((o) => (o.outcome === 'reused' ? [o.previous] : []))
    assert.equal(won.length, 1)
    assert.equal(reused.length, 19)
    const winner = won[0]?.successorHash
    // The losers see the winner's successor and its fractional usedAt.
    assert.ok(reused.every((p) => p.successorHash === winner && p.usedAt === NOW + 1.25))
    const live = await database.query<{ hash: string }>(
      'SELECT hash FROM refresh_tokens WHERE used_at IS NULL',
    )
    assert.deepEqual(
      live.map((r) => r.hash),
      [winner],
    )
  })

  it('ends a session racing its rotation on another store: no deadlock, no token left', async () => {
    for (let i = 0; i < 10; i++) {
      const s = session(`s${i}`)
      await a.createSession(s, refresh(`rt-${i}`, s), null)
      const started = Date.now()
      const [rotated, revoked] = await Promise.all([
        a.rotateRefreshToken(`rt-${i}`, refresh(`rt-${i}b`, s), 'x', NOW + 900, NOW + 1),
        b.revokeSession(s.id, revocation('sid', s.id, { createdAt: NOW + 1 })),
      ])
      // A deadlock would cost PostgreSQL's deadlock_timeout (1 s) before one side is aborted.
      assert.ok(Date.now() - started < 900, `round ${i} took ${Date.now() - started} ms`)
      assert.equal(revoked, true)
      assert.notEqual(rotated.outcome, 'reused')
      const left = await database.query('SELECT hash FROM refresh_tokens WHERE session_id = $1', [
        s.id,
      ])
      assert.deepEqual(left, [], `round ${i}: ${rotated.outcome}`)
    }
  })

  it('never shows a feed reader a seq before an earlier one has committed', async () => {
    // Two nodes append 200 events, 16 at a time; a reader follows the feed by cursor meanwhile.
    const appended: number[] = []
    let writing = true
    const writers = (async () => {
      for (let wave = 0; wave < 25; wave++) {
        const seqs = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            nodes()[i % 2]!.appendRevocation(revocation('jti', `j${wave}-${i}`)),
          ),
        )
        appended.push(...seqs)
      }
      writing = false
    })()
    const seen: number[] = []
    let cursor = 0
    while (writing || seen.length < 200) {
      const page = await nodes()[seen.length % 2]!.listRevocations(cursor, 50)
      for (const event of page) seen.push(event.seq)
      cursor = page.at(-1)?.seq ?? cursor
      if (!writing && page.length === 0) break
    }
    await writers
    assert.equal(seen.length, 200, 'the reader missed events committed behind its cursor')
    assert.deepEqual(
      [...seen].sort((x, y) => x - y),
      [...appended].sort((x, y) => x - y),
    )
  })

  it('rejects with StoreUnavailableError while another transaction holds a row too long', async () => {
    const slow = await createPostgresStore(database.url, { poolSize: 2, lockTimeoutMs: 100 })
    try {
      const s = session('s1')
      await slow.createSession(s, refresh('rt1', s), null)
      // The test's own connection holds the session's row, as a stuck transaction would.
      await database.query('BEGIN')
      await database.query("SELECT 1 FROM sessions WHERE id = 's1' FOR UPDATE")
      try {
        const sid = revocation('sid', 's1')
        await assert.rejects(slow.revokeSession('s1', sid), StoreUnavailableError)
        await assert.rejects(
          slow.rotateRefreshToken('rt1', refresh('rt2', s), 'x', NOW + 9, NOW),
          StoreUnavailableError,
        )
      } finally {
        await database.query('ROLLBACK')
      }
      // Nothing of the failed calls was kept; once the lock is gone, they work.
      assert.deepEqual(await slow.getSession('s1'), s)
      assert.deepEqual(await slow.listRevocations(0, 10), [])
      assert.equal(await slow.revokeSession('s1', revocation('sid', 's1')), true)
    } finally {
      await slow.close()
    }
  })
})
