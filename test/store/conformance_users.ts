/**
 * Conformance: `UserStore` except `deleteUser` (which ends sessions; see `./conformance_revoke.ts`).
 * Part of the one suite run by `runStoreConformance`; engine-agnostic.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConflictError } from '../../src/errors.js'
import type { Store } from '../../src/store/types.js'
import { NOW, user } from './fixtures.js'

/** Registers the tests; `store()` is the open, empty store of the running test. */
export function describeUserConformance(store: () => Store): void {
  describe('users', () => {
    it('returns a created user by id and by username with every field as it was given', async () => {
      const alice = user('u1', { username: 'alice', createdAt: NOW + 3 })
      await store().createUser(alice)
      assert.deepEqual(await store().getUser('u1'), alice)
      assert.deepEqual(await store().getUserByUsername('alice'), alice)
    })

    it('refuses a taken username with ConflictError and keeps the first user', async () => {
      const first = user('u1', { username: 'alice' })
      await store().createUser(first)
      await assert.rejects(store().createUser(user('u2', { username: 'alice' })), ConflictError)
      assert.deepEqual(await store().getUserByUsername('alice'), first)
      assert.equal(await store().getUser('u2'), null)
    })

    it('refuses a taken id with ConflictError and keeps the first user', async () => {
      const first = user('u1', { username: 'alice' })
      await store().createUser(first)
      await assert.rejects(store().createUser(user('u1', { username: 'bob' })), ConflictError)
      assert.deepEqual(await store().getUser('u1'), first)
      assert.equal(await store().getUserByUsername('bob'), null)
    })

    it('matches usernames exactly: case counts, and differing case is another user', async () => {
      const lower = user('u1', { username: 'alice' })
      await store().createUser(lower)
      assert.equal(await store().getUserByUsername('Alice'), null)
      assert.equal(await store().getUserByUsername('alice '), null)
      const upper = user('u2', { username: 'Alice' })
      await store().createUser(upper)
      assert.deepEqual(await store().getUserByUsername('Alice'), upper)
      assert.deepEqual(await store().getUserByUsername('alice'), lower)
    })

    it('returns null for an unknown id or username', async () => {
      await store().createUser(user('u1', { username: 'alice' }))
      assert.equal(await store().getUser('u0'), null)
      assert.equal(await store().getUserByUsername('bob'), null)
      // An id is not a username, nor the other way round.
      assert.equal(await store().getUser('alice'), null)
      assert.equal(await store().getUserByUsername('u1'), null)
    })

    it('lists every user ordered by username', async () => {
      const names = ['carol', 'alice', 'bob', 'al', 'bobby']
      for (const [i, username] of names.entries()) {
        await store().createUser(user(`id-${i}`, { username }))
      }
      const listed = await store().listUsers()
      assert.deepEqual(
        listed.map((u) => u.username),
        ['al', 'alice', 'bob', 'bobby', 'carol'],
      )
      assert.deepEqual(listed[0], user('id-3', { username: 'al' }))
    })

    it('lists no users when none exist', async () => {
      assert.deepEqual(await store().listUsers(), [])
    })

    it('replaces the password hash and nothing else', async () => {
      const alice = user('u1', { username: 'alice' })
      const bob = user('u2', { username: 'bob' })
      await store().createUser(alice)
      await store().createUser(bob)

      assert.equal(await store().setPasswordHash('u1', '$argon2id$new'), true)

      assert.deepEqual(await store().getUser('u1'), { ...alice, passwordHash: '$argon2id$new' })
      assert.deepEqual(await store().getUserByUsername('alice'), {
        ...alice,
        passwordHash: '$argon2id$new',
      })
      assert.deepEqual(await store().getUser('u2'), bob)
    })

    it('returns false when replacing the password hash of an unknown user', async () => {
      await store().createUser(user('u1'))
      assert.equal(await store().setPasswordHash('u0', '$argon2id$new'), false)
      assert.deepEqual(await store().listUsers(), [user('u1')])
    })

    it('remembers when the failed logins of a user were forgiven, by username, and changes nothing else', async () => {
      const alice = user('u1', { username: 'alice' })
      const bob = user('u2', { username: 'bob' })
      await store().createUser(alice)
      await store().createUser(bob)
      assert.equal(await store().getLoginsUnlockedAt('alice'), null, 'never unlocked')

      assert.equal(await store().unlockLogins('u1', NOW + 5), true)
      assert.equal(await store().getLoginsUnlockedAt('alice'), NOW + 5)
      assert.equal(await store().getLoginsUnlockedAt('bob'), null)
      assert.equal(await store().unlockLogins('u1', NOW + 9), true)
      assert.equal(await store().getLoginsUnlockedAt('alice'), NOW + 9, 'the latest unlock')

      assert.deepEqual(await store().getUser('u1'), alice)
      assert.deepEqual(await store().getUserByUsername('bob'), bob)
    })

    it('keeps a profile as it was given, and a user without one has nulls and an unverified email', async () => {
      const alice = user('u1', {
        username: 'alice',
        email: "alice.o'neil+tag@mail.example.com",
        emailVerified: true,
        name: "Alice Ō'Neil 李",
        givenName: 'Alice',
        familyName: "O'Neil",
      })
      await store().createUser(alice)
      await store().createUser(user('u2', { username: 'bob' }))
      assert.deepEqual(await store().getUser('u1'), alice)
      assert.deepEqual(await store().getUserByUsername('alice'), alice)
      assert.deepEqual((await store().listUsers())[0], alice)
      const bob = await store().getUser('u2')
      assert.deepEqual(
        [bob?.email, bob?.emailVerified, bob?.name, bob?.givenName, bob?.familyName],
        [null, false, null, null, null],
      )
    })

    it('replaces the whole profile and nothing else, and clears fields set to null', async () => {
      const alice = user('u1', { username: 'alice', email: 'a@example.com', name: 'Alice' })
      const bob = user('u2', { username: 'bob', email: 'b@example.com' })
      await store().createUser(alice)
      await store().createUser(bob)
      await store().unlockLogins('u1', NOW + 5)

      const profile = {
        email: 'alice@example.org',
        emailVerified: true,
        name: null,
        givenName: 'Alice',
        familyName: 'Liddell',
      }
      assert.equal(await store().setUserProfile('u1', profile), true)
      assert.deepEqual(await store().getUser('u1'), { ...alice, ...profile })
      assert.equal(await store().getLoginsUnlockedAt('alice'), NOW + 5)
      assert.deepEqual(await store().getUser('u2'), bob)

      const cleared = { ...profile, email: null, emailVerified: false, givenName: null }
      assert.equal(await store().setUserProfile('u1', cleared), true)
      assert.deepEqual(await store().getUserByUsername('alice'), { ...alice, ...cleared })
    })

    it('returns false when replacing the profile of an unknown user', async () => {
      await store().createUser(user('u1'))
      const profile = { ...user('u0'), email: 'x@example.com' }
      assert.equal(await store().setUserProfile('u0', profile), false)
      assert.deepEqual(await store().listUsers(), [user('u1')])
    })

    it('keeps the admin role as given, and gives or takes it alone; false for an unknown user', async () => {
      const root = user('u1', { username: 'root', admin: true, name: 'Root' })
      const bob = user('u2', { username: 'bob' })
      await store().createUser(root)
      await store().createUser(bob)
      assert.deepEqual(await store().getUser('u1'), root)
      assert.equal((await store().getUserByUsername('bob'))?.admin, false)
      assert.equal(await store().setUserAdmin('u2', true), true)
      assert.equal(await store().setUserAdmin('u1', false), true)
      assert.deepEqual(await store().getUser('u2'), { ...bob, admin: true })
      assert.deepEqual(await store().getUser('u1'), { ...root, admin: false })
      assert.deepEqual(
        (await store().listUsers()).map((u) => [u.username, u.admin]),
        [
          ['bob', true],
          ['root', false],
        ],
      )
      assert.equal(await store().setUserAdmin('u0', true), false)
    })

    it('returns false when unlocking an unknown user, and null for an unknown username', async () => {
      await store().createUser(user('u1', { username: 'alice' }))
      assert.equal(await store().unlockLogins('u0', NOW), false)
      assert.equal(await store().getLoginsUnlockedAt('nobody'), null)
      assert.equal(await store().getLoginsUnlockedAt('u1'), null, 'an id is not a username')
    })
  })
}
