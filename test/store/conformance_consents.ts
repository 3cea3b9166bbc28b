/**
 * Conformance: `ConsentStore` — remembered consents to third-party clients, what revoking one ends,
 * and that deleting a user or a client forgets theirs. Part of the one suite run by
 * `runStoreConformance`; engine-agnostic.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RevocationInput, SessionRecord, Store } from '../../src/store/types.js'
import { NOW, client, code, login, refresh, revocation, session, token, user } from './fixtures.js'

/** Registers the tests; `store()` is the open, empty store of the running test. */
export function describeConsentConformance(store: () => Store): void {
  async function start(s: SessionRecord): Promise<void> {
    await store().createSession(s, refresh(`rt-${s.id}`, s), null)
    await store().saveToken(token(`at-${s.id}`, { clientId: s.clientId, sub: s.userId, sid: s.id }))
  }
  async function anyAccess(id: string, now = NOW): Promise<boolean> {
    return (
      (await store().getRefreshToken(`rt-${id}`, now)) !== null ||
      (await store().findToken(`at-${id}`, now)) !== null
    )
  }
  const sidEvent = (s: SessionRecord): RevocationInput =>
    revocation('sid', s.id, { clientId: s.clientId, createdAt: NOW + 10, expiresAt: NOW + 310 })

  describe('consents', () => {
    it('returns null before any grant, then the granted scope with its times', async () => {
      assert.equal(await store().getConsent('u1', 'web'), null)
      await store().grantConsent('u1', 'web', ['profile', 'openid'], NOW)
      assert.deepEqual(await store().getConsent('u1', 'web'), {
        userId: 'u1',
        clientId: 'web',
        scope: ['openid', 'profile'],
        grantedAt: NOW,
        updatedAt: NOW,
      })
      assert.equal(await store().getConsent('u1', 'other'), null)
      assert.equal(await store().getConsent('u2', 'web'), null)
    })

    it('remembers the union of every grant, sorted without repeats, keeping the first time', async () => {
      await store().grantConsent('u1', 'web', ['openid', 'profile'], NOW)
      await store().grantConsent('u1', 'web', ['email', 'openid', 'email'], NOW + 5)
      await store().grantConsent('u1', 'web', ['openid'], NOW + 9)
      assert.deepEqual(await store().getConsent('u1', 'web'), {
        userId: 'u1',
        clientId: 'web',
        scope: ['email', 'openid', 'profile'],
        grantedAt: NOW,
        updatedAt: NOW + 9,
      })
    })

    it('loses no scope of 10 concurrent grants for one user and client', async () => {
      const scopes = Array.from({ length: 10 }, (_, i) => `s${i}`)
      await Promise.all(scopes.map((s) => store().grantConsent('u1', 'web', [s], NOW)))
      assert.deepEqual((await store().getConsent('u1', 'web'))?.scope, [...scopes].sort())
    })

    it('lists by user, by client, or both, ordered by user then client', async () => {
      await store().grantConsent('u2', 'web', ['a'], NOW)
      await store().grantConsent('u1', 'web', ['b'], NOW)
      await store().grantConsent('u1', 'app', ['c'], NOW)
      const pairs = async (filter: { userId?: string; clientId?: string }): Promise<string[]> =>
        (await store().listConsents(filter)).map((c) => `${c.userId}/${c.clientId}`)
      assert.deepEqual(await pairs({ userId: 'u1' }), ['u1/app', 'u1/web'])
      assert.deepEqual(await pairs({ clientId: 'web' }), ['u1/web', 'u2/web'])
      assert.deepEqual(await pairs({ userId: 'u1', clientId: 'web' }), ['u1/web'])
      assert.deepEqual(await pairs({ userId: 'u3' }), [])
      assert.deepEqual(await pairs({}), ['u1/app', 'u1/web', 'u2/web'])
    })

    it('revokes one consent: ends the user’s live sessions there, keeps the login, drops unused codes', async () => {
      await store().createLogin(login('l1'))
      const mine = session('s1', { loginHash: 'l1' })
      const other = session('s2', { clientId: 'app' })
      const theirs = session('s3', { userId: 'u2' })
      for (const s of [mine, other, theirs]) await start(s)
      await store().saveCode(code('c1'))
      await store().grantConsent('u1', 'web', ['openid'], NOW)
      await store().grantConsent('u1', 'app', ['openid'], NOW)
      await store().grantConsent('u2', 'web', ['openid'], NOW)

      const seen: string[] = []
      const result = await store().revokeConsent('u1', 'web', NOW + 10, (s) => {
        seen.push(s.id)
        return sidEvent(s)
      })
      assert.deepEqual(result, { clients: ['web'], sessions: ['s1'] })
      assert.deepEqual(seen, ['s1'])
      assert.equal(await store().getConsent('u1', 'web'), null)
      assert.equal(typeof (await store().getSession('s1'))?.revokedAt, 'number')
      assert.equal(await anyAccess('s1'), false)
      assert.equal(await store().isRevoked([{ kind: 'sid', value: 's1' }], NOW, NOW + 10), true)
      // The code approved before cannot start a session after.
      assert.equal(await store().redeemCode('c1', NOW + 11), null)
      // The browser login stays: the next authorization asks for consent again.
      assert.notEqual(await store().getLogin('l1', NOW + 10), null)
      // Nothing else.
      assert.notEqual(await store().getConsent('u1', 'app'), null)
      assert.notEqual(await store().getConsent('u2', 'web'), null)
      assert.equal(await anyAccess('s2'), true)
      assert.equal(await anyAccess('s3'), true)
    })

    it('revokes every consent of a user with a null client, and nothing without a consent', async () => {
      await start(session('s1'))
      await start(session('s2', { clientId: 'app' }))
      await start(session('s3', { clientId: 'first-party' }))
      await store().grantConsent('u1', 'web', ['openid'], NOW)
      await store().grantConsent('u1', 'app', ['openid'], NOW)
      const result = await store().revokeConsent('u1', null, NOW + 10, sidEvent)
      assert.deepEqual(result.clients, ['app', 'web'])
      assert.deepEqual([...result.sessions].sort(), ['s1', 's2'])
      assert.deepEqual(await store().listConsents({ userId: 'u1' }), [])
      assert.equal(await anyAccess('s3'), true)
      const before = (await store().listRevocations(0, 100)).length
      assert.deepEqual(await store().revokeConsent('u1', null, NOW + 11, sidEvent), {
        clients: [],
        sessions: [],
      })
      assert.deepEqual(await store().revokeConsent('u1', 'first-party', NOW + 11, sidEvent), {
        clients: [],
        sessions: [],
      })
      assert.equal((await store().listRevocations(0, 100)).length, before)
      assert.equal(await anyAccess('s3'), true)
    })

    it('forgets the consents of a deleted user and of a deleted client', async () => {
      await store().createUser(user('u1'))
      await store().createClient(client('web'))
      await store().grantConsent('u1', 'web', ['openid'], NOW)
      await store().grantConsent('u1', 'app', ['openid'], NOW)
      await store().grantConsent('u2', 'web', ['openid'], NOW)
      await store().grantConsent('u2', 'app', ['openid'], NOW)
      assert.equal(await store().deleteUser('u1', revocation('sub', 'u1')), true)
      assert.deepEqual(await store().listConsents({ userId: 'u1' }), [])
      assert.equal(await store().deleteClient('web', revocation('client', 'web')), true)
      assert.deepEqual(
        (await store().listConsents({})).map((c) => `${c.userId}/${c.clientId}`),
        ['u2/app'],
      )
    })
  })
}
