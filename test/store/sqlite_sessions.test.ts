/**
 * SQLite-specific tests of users, codes, sessions and refresh tokens, beyond the conformance suite:
 * persistence across reopen, races between processes (worker threads with their own connections),
 * and behaviour under another process's lock.
 */

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { StoreUnavailableError } from '../../src/errors.js'
import { NO_PROFILE } from '../../src/profile.js'
import { createSqliteStore } from '../../src/store/sqlite/index.js'
import type {
  AuthorizationCodeRecord,
  RefreshTokenRecord,
  RevocationInput,
  RotateOutcome,
  SessionRecord,
  Store,
  UserRecord,
} from '../../src/store/types.js'
import { raceInWorkers } from './sqlite_workers.js'

const NOW = 1_700_000_000

const alice: UserRecord = {
  id: 'u1',
  username: 'alice',
  passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
  admin: false,
  createdAt: NOW,
  ...NO_PROFILE,
}

const session: SessionRecord = {
  id: 's1',
  userId: 'u1',
  clientId: 'web',
  scope: 'read',
  createdAt: NOW,
  expiresAt: NOW + 3600,
  idleExpiresAt: NOW + 600,
  revokedAt: null,
  loginHash: 'l1',
  authTime: NOW,
  claims: [],
}

const refreshToken: RefreshTokenRecord = {
  hash: 'rt1',
  sessionId: 's1',
  clientId: 'web',
  userId: 'u1',
  scope: 'read',
  issuedAt: NOW,
  expiresAt: NOW + 1800,
  usedAt: null,
  successorHash: null,
  jkt: null,
  successorSealed: null,
}

const authorizationCode: AuthorizationCodeRecord = {
  hash: 'c1',
  clientId: 'web',
  userId: 'u1',
  redirectUri: 'https://app.example.com/cb',
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  scope: 'read',
  createdAt: NOW,
  expiresAt: NOW + 60,
  loginHash: 'l1',
  usedAt: null,
  sessionId: null,
  nonce: null,
  authTime: NOW,
  claims: [],
  dpopJkt: null,
}

const sidEvent: RevocationInput = {
  kind: 'sid',
  value: 's1',
  clientId: 'web',
  createdAt: NOW,
  expiresAt: NOW + 300,
}

describe('sqlite store: sessions', () => {
  let folder: string
  const open: Store[] = []

  function openStore(path: string, options?: Parameters<typeof createSqliteStore>[1]): Store {
    const store = createSqliteStore(path, options)
    open.push(store)
    return store
  }

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-sessions-'))
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()))
    rmSync(folder, { recursive: true, force: true })
  })

  it('keeps users, logins, codes, sessions and refresh tokens across close and reopen', async () => {
    const path = join(folder, 'store.db')
    const first = openStore(path)
    await first.createUser(alice)
    await first.createLogin({ hash: 'l1', userId: 'u1', createdAt: NOW, expiresAt: NOW + 600 })
    await first.saveCode(authorizationCode)
    await first.redeemCode('c1', NOW)
    await first.createSession(session, refreshToken, 'c1')
    await first.rotateRefreshToken(
      'rt1',
      { ...refreshToken, hash: 'rt2' },
      'sealed',
      NOW + 900,
      NOW,
    )
    await first.close()

    const second = openStore(path)
    assert.deepEqual(await second.getUserByUsername('alice'), alice)
    assert.equal((await second.getLogin('l1', NOW))?.userId, 'u1')
    assert.deepEqual(await second.redeemCode('c1', NOW + 1), {
      outcome: 'replayed',
      code: { ...authorizationCode, usedAt: NOW, sessionId: 's1' },
    })
    assert.deepEqual(await second.getSession('s1'), { ...session, idleExpiresAt: NOW + 900 })
    const rotated = await second.getRefreshToken('rt1', NOW)
    assert.deepEqual(rotated, {
      ...refreshToken,
      usedAt: NOW,
      successorHash: 'rt2',
      successorSealed: 'sealed',
    })
    assert.equal(
      (
        await second.rotateRefreshToken(
          'rt2',
          { ...refreshToken, hash: 'rt3' },
          's',
          NOW + 900,
          NOW,
        )
      ).outcome,
      'rotated',
    )
  })

  it('redeems a code once when 8 processes redeem it at the same moment', async () => {
    const path = join(folder, 'race.db')
    const store = openStore(path)
    await store.saveCode(authorizationCode)
    const results = (await raceInWorkers(path, 8, 'redeemCode', ['c1', NOW])) as {
      outcome: string
    }[]
    assert.deepEqual(results.map((r) => r.outcome).sort(), [
      'redeemed',
      ...Array<string>(7).fill('replayed'),
    ])
  })

  it('rotates a refresh token once when 8 processes rotate it at the same moment', async () => {
    const path = join(folder, 'race.db')
    const store = openStore(path)
    await store.createSession(session, refreshToken, null)
    const successor = { ...refreshToken, hash: 'next-{i}' }
    const results = (await raceInWorkers(path, 8, 'rotateRefreshToken', [
      'rt1',
      successor,
      'sealed-{i}',
      NOW + 900,
      NOW,
    ])) as RotateOutcome[]

    const won = results.filter((r) => r.outcome === 'rotated')
    assert.equal(won.length, 1)
    assert.equal(results.filter((r) => r.outcome === 'reused').length, 7)
    const winner = won[0]?.outcome === 'rotated' ? won[0].previous.successorHash : null
    for (let i = 0; i < 8; i++) {
      const found = await store.getRefreshToken(`next-${i}`, NOW)
      assert.equal(found !== null, `next-${i}` === winner, `next-${i}`)
    }
  })

  it('rejects ending a session with StoreUnavailableError while another process holds the lock, changing nothing', async () => {
    const path = join(folder, 'store.db')
    const store = openStore(path, { busyTimeoutMs: 50 })
    await store.createSession(session, refreshToken, null)
    const event = sidEvent
    const other = new Database(path)
    try {
      other.exec('BEGIN IMMEDIATE')
      await assert.rejects(store.revokeSession('s1', event), StoreUnavailableError)
      await assert.rejects(
        store.rotateRefreshToken('rt1', { ...refreshToken, hash: 'rt2' }, 's', NOW + 9, NOW),
        StoreUnavailableError,
      )
      other.exec('ROLLBACK')
    } finally {
      other.close()
    }
    assert.deepEqual(await store.getSession('s1'), session)
    assert.deepEqual(await store.listRevocations(0, 10), [])
    assert.equal(await store.revokeSession('s1', event), true)
  })
})
