/**
 * Conformance: what takes a user's access away — ending one session, every session of a user,
 * deleting a user, deleting a client with its sessions. Part of the one suite run by
 * `runStoreConformance`; engine-agnostic.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RevocationInput, SessionRecord, Store } from '../../src/store/types.js'
import { NOW, client, code, login, refresh, revocation, session, token, user } from './fixtures.js'

/** Registers the tests; `store()` is the open, empty store of the running test. */
export function describeRevokeConformance(store: () => Store): void {
  /** Starts `s` with the current refresh token `rt-<id>` and an opaque access token `at-<id>`. */
  async function start(s: SessionRecord): Promise<void> {
    await store().createSession(s, refresh(`rt-${s.id}`, s), null)
    await store().saveToken(token(`at-${s.id}`, { clientId: s.clientId, sub: s.userId, sid: s.id }))
  }

  /** Whether the session still lets anyone in: its refresh token or its opaque token still work. */
  async function anyAccess(id: string, now = NOW): Promise<boolean> {
    return (
      (await store().getRefreshToken(`rt-${id}`, now)) !== null ||
      (await store().findToken(`at-${id}`, now)) !== null
    )
  }

  const sidEvent = (id: string, at = NOW + 10): RevocationInput =>
    revocation('sid', id, { clientId: 'web', createdAt: at, expiresAt: at + 300 })

  async function events(): Promise<RevocationInput[]> {
    return (await store().listRevocations(0, 100)).map(({ seq: _seq, ...event }) => event)
  }

  describe('ending a session', () => {
    it('revokes it, deletes its refresh tokens, opaque tokens and login, and appends its event', async () => {
      const s = session('s1', { loginHash: 'l1' })
      await store().createLogin(login('l1'))
      await store().createLogin(login('l2'))
      await start(s)
      await start(session('s2', { loginHash: 'l2' }))
      // A rotated token of the session, as well as its current one.
      await store().rotateRefreshToken('rt-s1', refresh('rt-s1b', s), 'x', NOW + 3600, NOW + 1)
      await store().saveToken(token('own', { sid: null, sub: 'web', clientId: 'web' }))

      const event = sidEvent('s1')
      assert.equal(await store().revokeSession('s1', event), true)

      const ended = await store().getSession('s1')
      assert.ok(ended !== null && typeof ended.revokedAt === 'number')
      assert.deepEqual({ ...ended, revokedAt: null }, s)
      for (const hash of ['rt-s1', 'rt-s1b']) {
        assert.equal(await store().getRefreshToken(hash, NOW + 1), null, hash)
        const outcome = await store().rotateRefreshToken(
          hash,
          refresh('z', s),
          'z',
          NOW + 3600,
          NOW + 2,
        )
        assert.deepEqual(outcome, { outcome: 'invalid' }, hash)
      }
      assert.equal(await store().findToken('at-s1', NOW), null)
      assert.equal(await store().getLogin('l1', NOW), null)
      assert.deepEqual(await events(), [event])
      assert.equal(await store().isRevoked([{ kind: 'sid', value: 's1' }], NOW, NOW + 10), true)

      // Nothing else.
      assert.equal((await store().getSession('s2'))?.revokedAt, null)
      assert.equal(await anyAccess('s2'), true)
      assert.notEqual(await store().getLogin('l2', NOW), null)
      assert.notEqual(await store().findToken('own', NOW), null)
    })

    it('returns false and appends no event for an unknown or already revoked session', async () => {
      await start(session('s1'))
      await start(session('gone', { revokedAt: NOW - 1 }))
      assert.equal(await store().revokeSession('s0', sidEvent('s0')), false)
      assert.equal(await store().revokeSession('gone', sidEvent('gone')), false)
      assert.equal(await store().revokeSession('s1', sidEvent('s1')), true)
      const first = await store().getSession('s1')
      assert.equal(await store().revokeSession('s1', sidEvent('s1', NOW + 20)), false)
      assert.deepEqual(await events(), [sidEvent('s1')])
      // The second call changed nothing, not even the time it was revoked.
      assert.deepEqual(await store().getSession('s1'), first)
    })

    it('lets exactly one of two concurrent ends of one session append its event', async () => {
      await start(session('s1'))
      const results = await Promise.all([
        store().revokeSession('s1', sidEvent('s1')),
        store().revokeSession('s1', sidEvent('s1')),
      ])
      assert.deepEqual(results.sort(), [false, true])
      assert.equal((await events()).length, 1)
    })

    it('leaves only the session itself to prune once it expires', async () => {
      const s = session('s1', { expiresAt: NOW + 100 })
      await start(s)
      await store().rotateRefreshToken('rt-s1', refresh('rt-s1b', s), 'x', NOW + 100, NOW + 1)
      await store().createLogin(login('l1', { expiresAt: NOW + 1000 }))
      await store().revokeSession('s1', sidEvent('s1'))
      // Its refresh tokens (valid until NOW + 7200) are already gone; only the session row is left.
      assert.equal(await store().pruneSessions(NOW + 101), 1)
    })

    it('ends an expired session too, which is not yet revoked', async () => {
      await start(session('s1', { idleExpiresAt: NOW - 1 }))
      assert.equal(await store().revokeSession('s1', sidEvent('s1')), true)
      assert.equal(await anyAccess('s1', NOW - 2), false)
    })
  })

  describe('ending every session of a user', () => {
    it('ends every live session of the user, one event each, and returns their ids', async () => {
      const mine = [session('web-1'), session('cli-1', { clientId: 'cli', createdAt: NOW + 1 })]
      const expired = session('expired', { expiresAt: NOW + 5 })
      const revoked = session('revoked', { revokedAt: NOW - 1 })
      const theirs = session('theirs', { userId: 'u2' })
      for (const s of [...mine, expired, revoked, theirs]) await start(s)

      const seen: SessionRecord[] = []
      const ids = await store().revokeUserSessions('u1', NOW + 10, (s) => {
        seen.push(s)
        return sidEvent(s.id, NOW + 10)
      })

      assert.deepEqual([...ids].sort(), ['cli-1', 'web-1'])
      assert.deepEqual(seen.map((s) => s.id).sort(), ['cli-1', 'web-1'])
      assert.ok(seen.every((s) => s.userId === 'u1'))
      assert.deepEqual((await events()).map((e) => e.value).sort(), ['cli-1', 'web-1'])
      for (const s of mine) {
        assert.equal(typeof (await store().getSession(s.id))?.revokedAt, 'number', s.id)
        assert.equal(await anyAccess(s.id), false, s.id)
      }
      assert.deepEqual(await store().listSessions({ userId: 'u1' }, NOW + 10), [])
      // Not live at `now`, so not ended now: no event for these.
      assert.deepEqual(await store().getSession('expired'), expired)
      assert.deepEqual(await store().getSession('revoked'), revoked)
      // Another user's session is untouched.
      assert.deepEqual(await store().getSession('theirs'), theirs)
      assert.equal(await anyAccess('theirs', NOW + 10), true)
    })

    it('forgets every browser login of the user, and only theirs', async () => {
      await store().createLogin(login('l-session', { userId: 'u1' }))
      await store().createLogin(login('l-other', { userId: 'u1' }))
      await store().createLogin(login('l-theirs', { userId: 'u2' }))
      await start(session('s1', { loginHash: 'l-session' }))

      await store().revokeUserSessions('u1', NOW, (s) => sidEvent(s.id))

      assert.equal(await store().getLogin('l-session', NOW), null)
      assert.equal(await store().getLogin('l-other', NOW), null)
      assert.notEqual(await store().getLogin('l-theirs', NOW), null)
    })

    it('returns no ids and appends no event when the user has no live session', async () => {
      await store().createLogin(login('l1', { userId: 'u1' }))
      await start(session('theirs', { userId: 'u2' }))
      let calls = 0
      const ids = await store().revokeUserSessions('u1', NOW, (s) => {
        calls++
        return sidEvent(s.id)
      })
      assert.deepEqual(ids, [])
      assert.equal(calls, 0)
      assert.deepEqual(await events(), [])
      assert.equal(await store().getLogin('l1', NOW), null)
    })

    it('changes nothing when building an event throws: one transaction', async () => {
      await store().createLogin(login('l1', { userId: 'u1' }))
      await start(session('s1', { loginHash: 'l1' }))
      await start(session('s2', { createdAt: NOW + 1 }))
      const boom = new Error('no event')
      let calls = 0
      await assert.rejects(
        store().revokeUserSessions('u1', NOW + 10, (s) => {
          if (++calls === 2) throw boom
          return sidEvent(s.id)
        }),
        (error) => error === boom,
      )
      assert.deepEqual(await events(), [])
      assert.equal(
        await store()
          .listSessions({ userId: 'u1' }, NOW + 10)
          .then((l) => l.length),
        2,
      )
      assert.equal(await anyAccess('s1'), true)
      assert.equal(await anyAccess('s2'), true)
      assert.notEqual(await store().getLogin('l1', NOW), null)
    })
  })

  describe('ending a browser login (logout)', () => {
    it('ends the login and its live sessions, one event each, and no other', async () => {
      await store().createLogin(login('l1', { userId: 'u1' }))
      await store().createLogin(login('l2', { userId: 'u1' }))
      const mine = [
        session('web-1', { loginHash: 'l1' }),
        session('cli-1', { clientId: 'cli', loginHash: 'l1', createdAt: NOW + 1 }),
      ]
      const expired = session('expired', { loginHash: 'l1', expiresAt: NOW + 5 })
      const other = session('other', { loginHash: 'l2' })
      for (const s of [...mine, expired, other]) await start(s)

      const seen: string[] = []
      const ids = await store().endLogin('l1', NOW + 10, (s) => {
        seen.push(s.id)
        return sidEvent(s.id, NOW + 10)
      })

      assert.deepEqual(ids, ['cli-1', 'web-1'])
      assert.deepEqual(seen.sort(), ['cli-1', 'web-1'])
      assert.deepEqual((await events()).map((e) => e.value).sort(), ['cli-1', 'web-1'])
      for (const s of mine) {
        assert.equal(typeof (await store().getSession(s.id))?.revokedAt, 'number', s.id)
        assert.equal(await anyAccess(s.id, NOW + 10), false, s.id)
      }
      assert.equal(await store().getLogin('l1', NOW), null)
      // Not live at `now`: not ended now, no event.
      assert.deepEqual(await store().getSession('expired'), expired)
      // A session of another login of the same user, and that login, stay.
      assert.deepEqual(await store().getSession('other'), other)
      assert.equal(await anyAccess('other', NOW + 10), true)
      assert.notEqual(await store().getLogin('l2', NOW), null)
    })

    it('ends a login without sessions, appending nothing', async () => {
      await store().createLogin(login('l1'))
      let calls = 0
      const ids = await store().endLogin('l1', NOW, (s) => {
        calls++
        return sidEvent(s.id)
      })
      assert.deepEqual(ids, [])
      assert.equal(calls, 0)
      assert.deepEqual(await events(), [])
      assert.equal(await store().getLogin('l1', NOW), null)
      assert.deepEqual(await store().endLogin('unknown', NOW, (s) => sidEvent(s.id)), [])
    })

    it('changes nothing when building an event throws: one transaction', async () => {
      await store().createLogin(login('l1'))
      await start(session('s1', { loginHash: 'l1' }))
      await start(session('s2', { loginHash: 'l1', createdAt: NOW + 1 }))
      const boom = new Error('no event')
      let calls = 0
      await assert.rejects(
        store().endLogin('l1', NOW + 10, (s) => {
          if (++calls === 2) throw boom
          return sidEvent(s.id)
        }),
        (error) => error === boom,
      )
      assert.deepEqual(await events(), [])
      assert.equal(await anyAccess('s1'), true)
      assert.equal(await anyAccess('s2'), true)
      assert.notEqual(await store().getLogin('l1', NOW), null)
    })
  })

  describe('deleting a user', () => {
    it('deletes the user with everything that lets them in, appending only its sub event', async () => {
      await store().createUser(user('u1', { username: 'alice' }))
      await store().createUser(user('u2', { username: 'bob' }))
      await store().createLogin(login('l1', { userId: 'u1' }))
      await store().createLogin(login('l1b', { userId: 'u1' }))
      await store().createLogin(login('l2', { userId: 'u2' }))
      await start(session('s1', { loginHash: 'l1' }))
      await start(session('s1-cli', { clientId: 'cli' }))
      await start(session('s2', { userId: 'u2', loginHash: 'l2' }))
      await store().saveCode(code('c-unused', { userId: 'u1' }))
      await store().saveCode(code('c-theirs', { userId: 'u2' }))
      await store().saveToken(token('own', { sid: null, sub: 'web', clientId: 'web' }))

      const event = revocation('sub', 'u1', { clientId: null, createdAt: NOW + 10 })
      assert.equal(await store().deleteUser('u1', event), true)

      assert.equal(await store().getUser('u1'), null)
      assert.equal(await store().getUserByUsername('alice'), null)
      for (const id of ['s1', 's1-cli']) {
        assert.equal(typeof (await store().getSession(id))?.revokedAt, 'number', id)
        assert.equal(await anyAccess(id), false, id)
      }
      assert.deepEqual(await store().listSessions({ userId: 'u1' }, NOW), [])
      assert.equal(await store().getLogin('l1', NOW), null)
      assert.equal(await store().getLogin('l1b', NOW), null)
      assert.equal(await store().redeemCode('c-unused', NOW), null)
      assert.deepEqual(await events(), [event])

      // The other user, and a client's own token, are untouched.
      assert.deepEqual(await store().getUserByUsername('bob'), user('u2', { username: 'bob' }))
      assert.equal(await anyAccess('s2'), true)
      assert.notEqual(await store().getLogin('l2', NOW), null)
      assert.equal((await store().redeemCode('c-theirs', NOW))?.outcome, 'redeemed')
      assert.notEqual(await store().findToken('own', NOW), null)
    })

    it('leaves only the revoked sessions to prune once they expire', async () => {
      await store().createUser(user('u1'))
      await start(session('s1', { expiresAt: NOW + 100 }))
      await store().saveCode(code('c1', { expiresAt: NOW + 1000 }))
      await store().deleteUser('u1', revocation('sub', 'u1'))
      assert.equal(await store().pruneSessions(NOW + 101), 1)
    })

    it('returns false and appends nothing for an unknown user', async () => {
      await store().createUser(user('u1'))
      await start(session('s0', { userId: 'u0' }))
      assert.equal(await store().deleteUser('u0', revocation('sub', 'u0')), false)
      assert.deepEqual(await events(), [])
      assert.equal(await anyAccess('s0'), true)
      assert.deepEqual(await store().listUsers(), [user('u1')])
    })

    it('accepts a new user under the username of a deleted one', async () => {
      await store().createUser(user('u1', { username: 'alice' }))
      await store().deleteUser('u1', revocation('sub', 'u1'))
      const next = user('u9', { username: 'alice' })
      await store().createUser(next)
      assert.deepEqual(await store().getUserByUsername('alice'), next)
    })
  })

  describe('deleting a client', () => {
    it('deletes its sessions, refresh tokens, codes and opaque tokens, and leaves other clients', async () => {
      await store().createClient(client('web'))
      await store().createClient(client('cli'))
      await start(session('s-web'))
      await start(session('s-cli', { clientId: 'cli' }))
      await store().saveCode(code('c-web'))
      await store().saveCode(code('c-web-used'))
      await store().redeemCode('c-web-used', NOW)
      await store().saveCode(code('c-cli', { clientId: 'cli' }))

      assert.equal(await store().deleteClient('web', revocation('client', 'web')), true)

      assert.equal(await store().getClient('web'), null)
      assert.equal(await store().getSession('s-web'), null)
      assert.equal(await anyAccess('s-web'), false)
      assert.deepEqual(
        await store().rotateRefreshToken(
          'rt-s-web',
          refresh('z', session('s-web')),
          'z',
          NOW + 9,
          NOW,
        ),
        { outcome: 'invalid' },
      )
      assert.equal(await store().redeemCode('c-web', NOW), null)
      assert.equal(await store().redeemCode('c-web-used', NOW), null)
      assert.deepEqual(await store().listSessions({ clientId: 'web' }, NOW), [])
      // Nothing of the client is left behind for pruning to find.
      assert.equal(await store().pruneSessions(NOW), 0)

      assert.notEqual(await store().getClient('cli'), null)
      assert.notEqual(await store().getSession('s-cli'), null)
      assert.equal(await anyAccess('s-cli'), true)
      assert.equal((await store().redeemCode('c-cli', NOW))?.outcome, 'redeemed')
    })

    it('ends the browser logins its live sessions came from', async () => {
      await store().createClient(client('web'))
      await store().createLogin(login('l-web'))
      await store().createLogin(login('l-other'))
      await start(session('s-web', { loginHash: 'l-web' }))
      await start(session('s-cli', { clientId: 'cli', loginHash: 'l-other' }))

      await store().deleteClient('web', revocation('client', 'web'))

      assert.equal(await store().getLogin('l-web', NOW), null)
      assert.notEqual(await store().getLogin('l-other', NOW), null)
    })
  })
}
