/**
 * Conformance: browser logins, authorization codes, starting and listing sessions, and pruning.
 * Refresh tokens are in `./conformance_refresh.ts`, ending sessions in `./conformance_revoke.ts`.
 * Part of the one suite run by `runStoreConformance`; engine-agnostic.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConflictError } from '../../src/errors.js'
import type { Store } from '../../src/store/types.js'
import { NOW, code, login, refresh, session } from './fixtures.js'

/** Registers the tests; `store()` is the open, empty store of the running test. */
export function describeSessionConformance(store: () => Store): void {
  describe('browser logins', () => {
    it('returns a created login while it is live, and null from its expiresAt second on', async () => {
      const created = login('l1', { createdAt: NOW - 5, expiresAt: NOW + 10 })
      await store().createLogin(created)
      assert.deepEqual(await store().getLogin('l1', NOW), created)
      assert.deepEqual(await store().getLogin('l1', NOW + 9), created)
      assert.equal(await store().getLogin('l1', NOW + 10), null)
      assert.equal(await store().getLogin('l1', NOW + 11), null)
    })

    it('returns null for an unknown login hash', async () => {
      await store().createLogin(login('l1'))
      assert.equal(await store().getLogin('l0', NOW), null)
    })

    it('refuses a login hash that is already stored with ConflictError', async () => {
      await store().createLogin(login('l1', { userId: 'u1' }))
      await assert.rejects(store().createLogin(login('l1', { userId: 'u2' })), ConflictError)
      assert.equal((await store().getLogin('l1', NOW))?.userId, 'u1')
    })

    it('ends a login once: true, then false, and leaves other logins of the user', async () => {
      await store().createLogin(login('l1'))
      await store().createLogin(login('l2'))
      assert.equal(await store().deleteLogin('l1'), true)
      assert.equal(await store().getLogin('l1', NOW), null)
      assert.equal(await store().deleteLogin('l1'), false)
      assert.equal(await store().deleteLogin('l0'), false)
      assert.deepEqual(await store().getLogin('l2', NOW), login('l2'))
    })
  })

  describe('authorization codes', () => {
    it('redeems a saved code once, setting usedAt to now and keeping every other field', async () => {
      const saved = code('c1', { loginHash: null, scope: 'read' })
      await store().saveCode(saved)
      assert.deepEqual(await store().redeemCode('c1', NOW + 5), {
        outcome: 'redeemed',
        code: { ...saved, usedAt: NOW + 5 },
      })
    })

    it('keeps the dpop_jkt of a code (RFC 9449 §10)', async () => {
      const saved = code('c1', { dpopJkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' })
      await store().saveCode(saved)
      assert.deepEqual(await store().redeemCode('c1', NOW + 5), {
        outcome: 'redeemed',
        code: { ...saved, usedAt: NOW + 5 },
      })
    })

    it('reports any later redemption as replayed with the record and the first usedAt', async () => {
      await store().saveCode(code('c1'))
      await store().saveCode(code('c2'))
      await store().redeemCode('c1', NOW + 5)
      const used = { ...code('c1'), usedAt: NOW + 5 }
      assert.deepEqual(await store().redeemCode('c1', NOW + 6), { outcome: 'replayed', code: used })
      assert.deepEqual(await store().redeemCode('c1', NOW + 7), { outcome: 'replayed', code: used })
      // Another code is untouched.
      assert.equal((await store().redeemCode('c2', NOW + 8))?.outcome, 'redeemed')
    })

    it('lets exactly one of 20 concurrent redemptions win; the other 19 are replays', async () => {
      await store().saveCode(code('c1'))
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store().redeemCode('c1', NOW + 1 + (i % 3))),
      )
      const won = results.filter((r) => r?.outcome === 'redeemed')
      const replayed = results.filter((r) => r?.outcome === 'replayed')
      assert.equal(won.length, 1)
      assert.equal(replayed.length, 19)
      // Every replay reports the winner's usedAt.
      const usedAt = won[0]?.code.usedAt
      assert.ok(typeof usedAt === 'number')
      assert.ok(replayed.every((r) => r?.code.usedAt === usedAt))
    })

    it('returns null for an unknown code', async () => {
      await store().saveCode(code('c1'))
      assert.equal(await store().redeemCode('c0', NOW), null)
    })

    it('returns null for a code from its expiresAt second on, and does not use it', async () => {
      await store().saveCode(code('c1', { expiresAt: NOW + 60 }))
      assert.equal(await store().redeemCode('c1', NOW + 60), null)
      assert.equal(await store().redeemCode('c1', NOW + 61), null)
      // Nothing was marked used: at an earlier clock reading it still redeems.
      assert.equal((await store().redeemCode('c1', NOW + 59))?.outcome, 'redeemed')
    })

    it('returns null, not replayed, for a used code once it has expired', async () => {
      await store().saveCode(code('c1', { expiresAt: NOW + 60 }))
      await store().redeemCode('c1', NOW + 1)
      assert.equal((await store().redeemCode('c1', NOW + 59))?.outcome, 'replayed')
      assert.equal(await store().redeemCode('c1', NOW + 60), null)
    })

    it('refuses a code hash that is already stored with ConflictError', async () => {
      await store().saveCode(code('c1', { clientId: 'web' }))
      await assert.rejects(store().saveCode(code('c1', { clientId: 'other' })), ConflictError)
      assert.equal((await store().redeemCode('c1', NOW))?.code.clientId, 'web')
    })
  })

  describe('sessions', () => {
    it('starts a session with its first refresh token and records it on its code', async () => {
      const s = session('s1', { loginHash: 'l1', scope: 'read write' })
      const rt = refresh('rt1', s)
      await store().saveCode(code('c1'))
      await store().redeemCode('c1', NOW)

      await store().createSession(s, rt, 'c1')

      assert.deepEqual(await store().getSession('s1'), s)
      assert.deepEqual(await store().getRefreshToken('rt1', NOW), rt)
      // A replay of the code now names the session, so that it can be ended (RFC 6749 §4.1.2).
      assert.deepEqual(await store().redeemCode('c1', NOW + 1), {
        outcome: 'replayed',
        code: { ...code('c1'), usedAt: NOW, sessionId: 's1' },
      })
    })

    it('keeps the OpenID Connect facts of a code and a session: nonce, auth_time, requested claims, or none', async () => {
      const bare = { nonce: null, authTime: null, claims: [] }
      await store().saveCode(code('c-oidc', { nonce: 'x'.repeat(255), claims: ['email'] }))
      await store().saveCode(code('c-bare', bare))
      assert.deepEqual((await store().redeemCode('c-oidc', NOW))?.code, {
        ...code('c-oidc', { nonce: 'x'.repeat(255), claims: ['email'] }),
        usedAt: NOW,
      })
      assert.deepEqual((await store().redeemCode('c-bare', NOW))?.code, {
        ...code('c-bare', bare),
        usedAt: NOW,
      })
      const plain = session('s-bare', { authTime: null, claims: [] })
      const rich = session('s-rich', { authTime: NOW - 5, claims: ['email', 'family_name'] })
      await store().createSession(plain, null, null)
      await store().createSession(rich, null, null)
      assert.deepEqual(await store().getSession('s-bare'), plain)
      assert.deepEqual(await store().getSession('s-rich'), rich)
    })

    it('starts a session without a refresh token or a code', async () => {
      const s = session('s1')
      await store().createSession(s, null, null)
      assert.deepEqual(await store().getSession('s1'), s)
    })

    it('refuses a taken session id with ConflictError and stores nothing of the second', async () => {
      const first = session('s1')
      await store().createSession(first, refresh('rt1', first), null)
      await store().saveCode(code('c2'))
      await store().redeemCode('c2', NOW)

      const second = session('s1', { userId: 'u2' })
      await assert.rejects(
        store().createSession(second, refresh('rt2', second), 'c2'),
        ConflictError,
      )

      assert.deepEqual(await store().getSession('s1'), first)
      assert.equal(await store().getRefreshToken('rt2', NOW), null)
      assert.equal((await store().redeemCode('c2', NOW + 1))?.code.sessionId, null)
    })

    it('refuses a taken refresh token hash with ConflictError and starts no session', async () => {
      const first = session('s1')
      await store().createSession(first, refresh('rt1', first), null)
      const second = session('s2')
      await assert.rejects(
        store().createSession(second, refresh('rt1', second), null),
        ConflictError,
      )
      assert.equal(await store().getSession('s2'), null)
      assert.equal((await store().getRefreshToken('rt1', NOW))?.sessionId, 's1')
    })

    it('returns null for an unknown session id', async () => {
      await store().createSession(session('s1'), null, null)
      assert.equal(await store().getSession('s0'), null)
    })

    it('returns revoked and expired sessions from getSession', async () => {
      const revoked = session('revoked', { revokedAt: NOW - 1 })
      const expired = session('expired', { createdAt: NOW - 100, expiresAt: NOW - 10 })
      const idle = session('idle', { idleExpiresAt: NOW - 10 })
      for (const s of [revoked, expired, idle]) await store().createSession(s, null, null)
      assert.deepEqual(await store().getSession('revoked'), revoked)
      assert.deepEqual(await store().getSession('expired'), expired)
      assert.deepEqual(await store().getSession('idle'), idle)
    })

    it('lists the live sessions of a user, newest first', async () => {
      const older = session('older', { createdAt: NOW - 20, clientId: 'web' })
      const newer = session('newer', { createdAt: NOW - 10, clientId: 'cli' })
      const newest = session('newest', { createdAt: NOW, clientId: 'web' })
      for (const s of [newer, older, newest]) await store().createSession(s, null, null)
      await store().createSession(session('theirs', { userId: 'u2' }), null, null)

      assert.deepEqual(await store().listSessions({ userId: 'u1' }, NOW), [newest, newer, older])
      assert.deepEqual(
        (await store().listSessions({ userId: 'u2' }, NOW)).map((s) => s.id),
        ['theirs'],
      )
      assert.deepEqual(await store().listSessions({ userId: 'nobody' }, NOW), [])
    })

    it('lists the live sessions of a client, and of a user at a client', async () => {
      await store().createSession(session('a', { createdAt: NOW - 2, userId: 'u1' }), null, null)
      await store().createSession(session('b', { createdAt: NOW - 1, userId: 'u2' }), null, null)
      await store().createSession(session('c', { clientId: 'cli', userId: 'u1' }), null, null)

      const ids = async (filter: { userId?: string; clientId?: string }) =>
        (await store().listSessions(filter, NOW)).map((s) => s.id)
      assert.deepEqual(await ids({ clientId: 'web' }), ['b', 'a'])
      assert.deepEqual(await ids({ clientId: 'cli' }), ['c'])
      assert.deepEqual(await ids({ userId: 'u1', clientId: 'web' }), ['a'])
      assert.deepEqual(await ids({ userId: 'u2', clientId: 'cli' }), [])
    })

    it('leaves out revoked, expired and idle-expired sessions, from their expiry second on', async () => {
      const sessions = [
        session('live', { createdAt: NOW - 1 }),
        session('revoked', { revokedAt: NOW - 5 }),
        session('expired-at-now', { expiresAt: NOW }),
        session('expired', { expiresAt: NOW - 1 }),
        session('idle-at-now', { idleExpiresAt: NOW }),
        session('idle', { idleExpiresAt: NOW - 1 }),
        session('ends-next-second', { createdAt: NOW - 2, expiresAt: NOW + 1 }),
      ]
      for (const s of sessions) await store().createSession(s, null, null)
      for (const filter of [{ userId: 'u1' }, { clientId: 'web' }]) {
        assert.deepEqual(
          (await store().listSessions(filter, NOW)).map((s) => s.id),
          ['live', 'ends-next-second'],
        )
      }
    })
  })

  describe('pruning sessions', () => {
    it('prunes expired codes, logins, sessions and refresh tokens, and returns how many', async () => {
      const at = NOW + 100
      await store().saveCode(code('c-old', { expiresAt: NOW + 50 }))
      await store().saveCode(code('c-at-now', { expiresAt: at }))
      await store().saveCode(code('c-live', { expiresAt: NOW + 200 }))
      await store().createLogin(login('l-old', { expiresAt: at - 1 }))
      await store().createLogin(login('l-live', { expiresAt: NOW + 200 }))

      const old = session('s-old', { expiresAt: NOW + 50, idleExpiresAt: NOW + 40 })
      const idle = session('s-idle', { expiresAt: NOW + 1000, idleExpiresAt: NOW + 60 })
      const revoked = session('s-revoked', { revokedAt: NOW, expiresAt: NOW + 1000 })
      const endsNow = session('s-at-now', { expiresAt: at, idleExpiresAt: at })
      const live = session('s-live', { expiresAt: NOW + 1000, idleExpiresAt: NOW + 500 })
      // A pruned session takes its refresh tokens with it, whatever their own expiry.
      await store().createSession(old, refresh('rt-old', old, { expiresAt: NOW + 1000 }), null)
      await store().createSession(idle, refresh('rt-idle', idle, { expiresAt: NOW + 1000 }), null)
      await store().createSession(revoked, null, null)
      await store().createSession(endsNow, null, null)
      await store().createSession(live, refresh('rt-expired', live, { expiresAt: NOW + 10 }), null)
      await store().rotateRefreshToken(
        'rt-expired',
        refresh('rt-live', live),
        'sealed',
        NOW + 600,
        NOW,
      )

      // 1 code, 1 login, 2 sessions, 3 refresh tokens.
      assert.equal(await store().pruneSessions(at), 7)
      assert.equal(await store().pruneSessions(at), 0)

      assert.equal(await store().getSession('s-old'), null)
      assert.equal(await store().getSession('s-idle'), null)
      // Revoked but not yet expired: still reported, as revoked.
      assert.deepEqual(await store().getSession('s-revoked'), revoked)
      assert.deepEqual(await store().getSession('s-at-now'), endsNow)
      assert.deepEqual(await store().getSession('s-live'), { ...live, idleExpiresAt: NOW + 600 })
      assert.equal((await store().getRefreshToken('rt-live', at))?.sessionId, 's-live')
      assert.equal(await store().getLogin('l-old', NOW), null)
      assert.notEqual(await store().getLogin('l-live', at), null)
      assert.equal(await store().redeemCode('c-old', NOW), null)
      assert.equal((await store().redeemCode('c-at-now', at - 1))?.outcome, 'redeemed')
      assert.equal((await store().redeemCode('c-live', at))?.outcome, 'redeemed')
    })

    it('prunes nothing from an empty store', async () => {
      assert.equal(await store().pruneSessions(NOW), 0)
    })
  })
}
