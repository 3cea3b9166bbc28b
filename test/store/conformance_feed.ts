/**
 * Conformance: what a revocation-feed reader relies on — strictly increasing seqs, paging, and
 * `prunedThrough`, the mark below which a reader's cursor is no longer enough. Part of the one suite
 * run by `runStoreConformance`; engine-agnostic.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Store } from '../../src/store/types.js'
import { NOW, revocation } from './fixtures.js'

/** Registers the tests; `store()` is the open, empty store of the running test. */
export function describeFeedConformance(store: () => Store): void {
  describe('revocation feed', () => {
    it('reports prunedThrough 0 on a fresh store and after a prune that deleted nothing', async () => {
      assert.equal(await store().prunedThrough(), 0)
      await store().appendRevocation(revocation('jti', 'live', { expiresAt: NOW + 100 }))
      assert.equal(await store().pruneRevocations(NOW), 0)
      assert.equal(await store().prunedThrough(), 0)
    })

    it('raises prunedThrough to the highest seq a prune deleted', async () => {
      const a = await store().appendRevocation(revocation('jti', 'a', { expiresAt: NOW - 10 }))
      const b = await store().appendRevocation(revocation('jti', 'b', { expiresAt: NOW + 100 }))
      const c = await store().appendRevocation(revocation('jti', 'c', { expiresAt: NOW - 5 }))
      const d = await store().appendRevocation(revocation('jti', 'd', { expiresAt: NOW + 100 }))
      assert.equal(await store().pruneRevocations(NOW), 2)
      assert.equal(await store().prunedThrough(), c)
      assert.ok(c > a)
      // A live event below the mark is still listed: a reloading reader reads from 0.
      assert.deepEqual(
        (await store().listRevocations(0, 10)).map((e) => e.seq),
        [b, d],
      )
    })

    it('never lowers prunedThrough when a later prune deletes only older seqs', async () => {
      const old = await store().appendRevocation(revocation('jti', 'old', { expiresAt: NOW + 50 }))
      const young = await store().appendRevocation(
        revocation('jti', 'young', { expiresAt: NOW - 1 }),
      )
      assert.equal(await store().pruneRevocations(NOW), 1)
      assert.equal(await store().prunedThrough(), young)
      assert.equal(await store().pruneRevocations(NOW + 100), 1)
      assert.equal(await store().prunedThrough(), young)
      assert.ok(old < young)
    })

    it('keeps prunedThrough below every seq appended after the prune', async () => {
      await store().appendRevocation(revocation('jti', 'x', { expiresAt: NOW - 1 }))
      await store().pruneRevocations(NOW)
      const mark = await store().prunedThrough()
      const next = await store().appendRevocation(revocation('jti', 'y', { expiresAt: NOW + 1 }))
      assert.ok(next > mark, `seq ${next} is above the mark ${mark}`)
      // A reader at the mark misses nothing live.
      assert.deepEqual(
        (await store().listRevocations(mark, 10)).map((e) => e.seq),
        [next],
      )
    })

    it('lets a reader page through every event exactly once while others append', async () => {
      const appended = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store().appendRevocation(revocation('sid', `s${i}`))),
      )
      const seen: number[] = []
      let cursor = 0
      for (;;) {
        const page = await store().listRevocations(cursor, 7)
        if (page.length === 0) break
        for (const e of page) seen.push(e.seq)
        cursor = page[page.length - 1]!.seq
      }
      assert.deepEqual(
        seen,
        [...appended].sort((x, y) => x - y),
      )
    })

    it('settles concurrent prunes and appends with a mark no higher than any pruned seq', async () => {
      const expired: number[] = []
      for (let i = 0; i < 10; i++) {
        expired.push(
          await store().appendRevocation(revocation('jti', `e${i}`, { expiresAt: NOW - 1 })),
        )
      }
      const results = await Promise.all([
        store().pruneRevocations(NOW),
        store().pruneRevocations(NOW),
        store().appendRevocation(revocation('jti', 'live', { expiresAt: NOW + 10 })),
      ])
      assert.equal(results[0] + results[1], 10)
      assert.equal(await store().prunedThrough(), Math.max(...expired))
      assert.ok(results[2] > Math.max(...expired))
    })
  })
}
