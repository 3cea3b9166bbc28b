/**
 * Conformance: refresh tokens, looked up (`getRefreshToken`) and rotated (`rotateRefreshToken`).
 * Part of the one suite run by `runStoreConformance`; engine-agnostic.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RefreshTokenRecord, SessionRecord, Store } from '../../src/store/types.js'
import { NOW, refresh, revocation, session } from './fixtures.js'

/** Registers the tests; `store()` is the open, empty store of the running test. */
export function describeRefreshConformance(store: () => Store): void {
  /** Starts `s` with the current refresh token `hash`, and returns that token's record. */
  async function start(s: SessionRecord, hash: string): Promise<RefreshTokenRecord> {
    const rt = refresh(hash, s)
    await store().createSession(s, rt, null)
    return rt
  }

  describe('refresh tokens', () => {
    it('finds a refresh token, current or rotated, while it is unexpired and its session live', async () => {
      const s = session('s1')
      const rt = await start(s, 'rt1')
      assert.deepEqual(await store().getRefreshToken('rt1', NOW), rt)

      await store().rotateRefreshToken('rt1', refresh('rt2', s), 'sealed-rt2', NOW + 3600, NOW + 1)
      assert.deepEqual(await store().getRefreshToken('rt1', NOW + 2), {
        ...rt,
        usedAt: NOW + 1,
        successorHash: 'rt2',
        successorSealed: 'sealed-rt2',
      })
      assert.deepEqual(await store().getRefreshToken('rt2', NOW + 2), refresh('rt2', s))
    })

    it('keeps the DPoP key thumbprint of a bound refresh token and stores its successor bound as given', async () => {
      const s = session('s1')
      const jkt = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I'
      const rt = refresh('rt1', s, { jkt })
      await store().createSession(s, rt, null)
      assert.deepEqual(await store().getRefreshToken('rt1', NOW), rt)
      const next = refresh('rt2', s, { jkt, issuedAt: NOW + 1 })
      const outcome = await store().rotateRefreshToken(
        'rt1',
        next,
        'sealed-rt2',
        NOW + 3600,
        NOW + 1,
      )
      assert.equal(outcome.outcome, 'rotated')
      assert.equal(outcome.outcome === 'rotated' ? outcome.previous.jkt : undefined, jkt)
      assert.deepEqual(await store().getRefreshToken('rt2', NOW + 2), next)
      // An unbound successor stays unbound (the engine stores what it is given).
      const unbound = session('s2')
      await store().createSession(unbound, refresh('rt3', unbound), null)
      await store().rotateRefreshToken(
        'rt3',
        refresh('rt4', unbound),
        'sealed',
        NOW + 3600,
        NOW + 1,
      )
      assert.equal((await store().getRefreshToken('rt4', NOW + 2))?.jkt, null)
    })

    it('finds no refresh token that is unknown, expired, or of an ended session', async () => {
      await start(session('s1'), 'rt1')
      const expiring = session('s2')
      await store().createSession(
        expiring,
        refresh('short', expiring, { expiresAt: NOW + 10 }),
        null,
      )
      await start(session('revoked', { revokedAt: NOW - 1 }), 'rt-revoked')
      await start(session('idle', { idleExpiresAt: NOW + 5 }), 'rt-idle')
      await start(session('ended', { expiresAt: NOW + 5 }), 'rt-ended')

      assert.equal(await store().getRefreshToken('rt0', NOW), null)
      assert.notEqual(await store().getRefreshToken('short', NOW + 9), null)
      assert.equal(await store().getRefreshToken('short', NOW + 10), null)
      assert.equal(await store().getRefreshToken('rt-revoked', NOW), null)
      assert.notEqual(await store().getRefreshToken('rt-idle', NOW + 4), null)
      assert.equal(await store().getRefreshToken('rt-idle', NOW + 5), null)
      assert.equal(await store().getRefreshToken('rt-ended', NOW + 5), null)
    })

    it('rotates a current token: marks it used, stores its successor, pushes the idle expiry', async () => {
      const s = session('s1', { idleExpiresAt: NOW + 100 })
      const rt = await start(s, 'rt1')
      const next = refresh('rt2', s, { issuedAt: NOW + 50, expiresAt: NOW + 7250 })

      const outcome = await store().rotateRefreshToken(
        'rt1',
        next,
        'sealed-rt2',
        NOW + 150,
        NOW + 50,
      )

      const used = { ...rt, usedAt: NOW + 50, successorHash: 'rt2', successorSealed: 'sealed-rt2' }
      assert.deepEqual(outcome, { outcome: 'rotated', previous: used })
      assert.deepEqual(await store().getRefreshToken('rt1', NOW + 50), used)
      assert.deepEqual(await store().getRefreshToken('rt2', NOW + 50), next)
      assert.deepEqual(await store().getSession('s1'), { ...s, idleExpiresAt: NOW + 150 })
      // The pushed idle expiry keeps the session live past its old one.
      assert.notEqual(await store().getRefreshToken('rt2', NOW + 120), null)
    })

    it('reports a rotated token as reused with its record, and changes nothing', async () => {
      const s = session('s1')
      await start(s, 'rt1')
      const first = await store().rotateRefreshToken(
        'rt1',
        refresh('rt2', s),
        'sealed-rt2',
        NOW + 3600,
        NOW + 1,
      )
      assert.equal(first.outcome, 'rotated')

      const again = await store().rotateRefreshToken(
        'rt1',
        refresh('rt3', s),
        'sealed-rt3',
        NOW + 9000,
        NOW + 2,
      )

      assert.deepEqual(again, {
        outcome: 'reused',
        previous: {
          ...refresh('rt1', s),
          usedAt: NOW + 1,
          successorHash: 'rt2',
          successorSealed: 'sealed-rt2',
        },
      })
      assert.equal(await store().getRefreshToken('rt3', NOW + 2), null)
      assert.equal((await store().getSession('s1'))?.idleExpiresAt, NOW + 3600)
      assert.deepEqual(await store().getRefreshToken('rt2', NOW + 2), refresh('rt2', s))
    })

    it('rotates the successor next, while its predecessor stays reused', async () => {
      const s = session('s1')
      await start(s, 'rt1')
      await store().rotateRefreshToken('rt1', refresh('rt2', s), 'x', NOW + 3600, NOW + 1)
      const second = await store().rotateRefreshToken(
        'rt2',
        refresh('rt3', s),
        'y',
        NOW + 3600,
        NOW + 2,
      )
      assert.equal(second.outcome, 'rotated')
      assert.equal(second.outcome === 'rotated' && second.previous.successorHash, 'rt3')
      assert.equal(
        (await store().rotateRefreshToken('rt1', refresh('rt4', s), 'z', NOW + 3600, NOW + 3))
          .outcome,
        'reused',
      )
      assert.equal(
        (await store().rotateRefreshToken('rt3', refresh('rt5', s), 'w', NOW + 3600, NOW + 4))
          .outcome,
        'rotated',
      )
    })

    it('lets exactly one of 20 concurrent rotations of one token win, leaving one lineage', async () => {
      const s = session('s1')
      await start(s, 'rt1')
      const successors = Array.from({ length: 20 }, (_, i) => refresh(`next-${i}`, s))

      const outcomes = await Promise.all(
        successors.map((next) =>
          store().rotateRefreshToken('rt1', next, `sealed-${next.hash}`, NOW + 3600, NOW + 1),
        ),
      )

      const won = outcomes.flatMap((o) => (o.outcome === 'rotated' ? [o.previous] : []))
      const reused = outcomes.flatMap((o) => (o.outcome === 'reused' ? [o.previous] : []))
      assert.equal(won.length, 1)
      assert.equal(reused.length, 19)
      const winner = won[0]?.successorHash
      assert.ok(winner !== undefined && winner !== null)
      // The losers see the winner's successor, not their own.
      assert.ok(reused.every((p) => p.successorHash === winner))
      assert.ok(reused.every((p) => p.successorSealed === `sealed-${winner}`))

      // Exactly one live refresh token in the session: the winner's successor.
      for (const next of successors) {
        const found = await store().getRefreshToken(next.hash, NOW + 1)
        assert.equal(found !== null, next.hash === winner, next.hash)
      }
      for (const next of successors) {
        if (next.hash === winner) continue
        const loser = await store().rotateRefreshToken(
          next.hash,
          refresh('z', s),
          'z',
          NOW + 3600,
          NOW + 2,
        )
        assert.deepEqual(loser, { outcome: 'invalid' })
      }
      const lineage = await store().rotateRefreshToken(
        winner,
        refresh('rt3', s),
        'y',
        NOW + 3600,
        NOW + 2,
      )
      assert.equal(lineage.outcome, 'rotated')
    })

    it('reports invalid for an unknown token and stores nothing', async () => {
      const s = session('s1')
      await start(s, 'rt1')
      const outcome = await store().rotateRefreshToken(
        'rt0',
        refresh('rt2', s),
        'x',
        NOW + 9000,
        NOW,
      )
      assert.deepEqual(outcome, { outcome: 'invalid' })
      assert.equal(await store().getRefreshToken('rt2', NOW), null)
      assert.deepEqual(await store().getSession('s1'), s)
    })

    it('reports invalid for a token from its expiresAt second on, and changes nothing', async () => {
      const s = session('s1')
      await store().createSession(s, refresh('rt1', s, { expiresAt: NOW + 10 }), null)
      const next = refresh('rt2', s)
      assert.deepEqual(await store().rotateRefreshToken('rt1', next, 'x', NOW + 9000, NOW + 10), {
        outcome: 'invalid',
      })
      assert.equal(await store().getRefreshToken('rt2', NOW), null)
      assert.deepEqual(await store().getSession('s1'), s)
      // Still unused: at an earlier clock reading it rotates.
      assert.equal(
        (await store().rotateRefreshToken('rt1', next, 'x', NOW + 9000, NOW + 9)).outcome,
        'rotated',
      )
    })

    it('reports invalid when the session is revoked, idle-expired or past its end', async () => {
      const cases = [
        session('revoked', { revokedAt: NOW - 1 }),
        session('idle', { idleExpiresAt: NOW }),
        session('ended', { expiresAt: NOW }),
      ]
      for (const s of cases) {
        await start(s, `rt-${s.id}`)
        const next = refresh(`next-${s.id}`, s)
        const outcome = await store().rotateRefreshToken(`rt-${s.id}`, next, 'x', NOW + 9000, NOW)
        assert.deepEqual(outcome, { outcome: 'invalid' }, s.id)
        // Nothing changed: no successor, and the idle expiry was not pushed (an ended session stays so).
        assert.equal(await store().getRefreshToken(next.hash, NOW - 1), null, s.id)
        assert.deepEqual(await store().getSession(s.id), s, s.id)
      }
    })

    it('reports invalid, not reused, for a rotated token once it has expired or its session ended', async () => {
      const s = session('s1', { idleExpiresAt: NOW + 100 })
      await store().createSession(s, refresh('rt1', s, { expiresAt: NOW + 50 }), null)
      await store().rotateRefreshToken('rt1', refresh('rt2', s), 'x', NOW + 100, NOW + 1)

      const at = (now: number) =>
        store().rotateRefreshToken('rt1', refresh('rt3', s), 'y', NOW + 9000, now)
      assert.equal((await at(NOW + 49)).outcome, 'reused')
      assert.deepEqual(await at(NOW + 50), { outcome: 'invalid' })

      const t = session('s2', { idleExpiresAt: NOW + 100 })
      await start(t, 'rt4')
      await store().rotateRefreshToken('rt4', refresh('rt5', t), 'x', NOW + 100, NOW + 1)
      const again = (now: number) =>
        store().rotateRefreshToken('rt4', refresh('rt6', t), 'y', NOW + 9000, now)
      assert.equal((await again(NOW + 99)).outcome, 'reused')
      assert.deepEqual(await again(NOW + 100), { outcome: 'invalid' })
    })

    it('never leaves a live refresh token when a rotation races the end of its session', async () => {
      const s = session('s1')
      await start(s, 'rt1')
      const [rotated, revoked] = await Promise.all([
        store().rotateRefreshToken('rt1', refresh('rt2', s), 'x', NOW + 3600, NOW + 1),
        store().revokeSession('s1', revocation('sid', 's1', { createdAt: NOW + 1 })),
      ])
      assert.equal(revoked, true)
      assert.notEqual(rotated.outcome, 'reused')
      for (const hash of ['rt1', 'rt2']) {
        assert.equal(await store().getRefreshToken(hash, NOW + 1), null, hash)
        const outcome = await store().rotateRefreshToken(
          hash,
          refresh('rt3', s),
          'y',
          NOW + 3600,
          NOW + 2,
        )
        assert.deepEqual(outcome, { outcome: 'invalid' }, hash)
      }
    })
  })
}
