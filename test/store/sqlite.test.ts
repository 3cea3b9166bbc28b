import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { StoreUnavailableError } from '../../src/errors.js'
import { NO_PROFILE } from '../../src/profile.js'
import { createSqliteStore } from '../../src/store/sqlite/index.js'
import { MIGRATIONS, migrate } from '../../src/store/sqlite/migrations.js'
import type { ClientRecord, SigningKeyRecord, Store } from '../../src/store/types.js'
import { runStoreConformance } from './conformance.js'
import { openConcurrently, openInWorker } from './sqlite_workers.js'

const conformanceFolder = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-conformance-'))
let storeCount = 0
runStoreConformance(
  'sqlite',
  () => createSqliteStore(join(conformanceFolder, `store-${++storeCount}.db`)),
  () => Promise.resolve(rmSync(conformanceFolder, { recursive: true, force: true })),
)
runStoreConformance('sqlite in memory', () => createSqliteStore(':memory:'))

const NOW = 1_700_000_000

const client: ClientRecord = {
  clientId: 'svc',
  secretHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
  grants: ['client_credentials'],
  scopes: ['read'],
  redirectUris: [],
  authMethod: 'client_secret_basic',
  jwks: null,
  jwksUri: null,
  audiences: [],
  exchangeAudiences: [],
  requirePar: false,
  requireDpop: false,
  allowedOrigins: [],
  displayName: null,
  logoUri: null,
  thirdParty: false,
  postLogoutRedirectUris: [],
  backchannelLogoutUri: null,
  idTokenSignedResponseAlg: 'RS256',
  accessTokenFormat: 'opaque',
  accessTokenTtl: 300,
  resourceServer: false,
  createdAt: NOW,
}

const signingKey: SigningKeyRecord = {
  kid: 'k1',
  alg: 'ES256',
  publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1', alg: 'ES256', use: 'sig' },
  privateKey: '-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n',
  createdAt: NOW,
  activatesAt: NOW,
  supersededAt: null,
  publishedUntil: null,
  retiredAt: null,
}

const opaqueToken = {
  hash: 'h1',
  clientId: 'svc',
  sub: 'svc',
  scope: 'read',
  aud: 'https://api.example.com',
  jti: 'j1',
  sid: null,
  issuedAt: NOW,
  expiresAt: NOW + 300,
  jkt: null,
}

function revocation(value: string) {
  return { kind: 'jti' as const, value, clientId: 'svc', createdAt: NOW, expiresAt: NOW + 300 }
}

function readMigrations(path: string): { version: number; applied_at: number }[] {
  const db = new Database(path, { readonly: true })
  try {
    return db
      .prepare<[], { version: number; applied_at: number }>(
        'SELECT version, applied_at FROM schema_migrations ORDER BY version',
      )
      .all()
  } finally {
    db.close()
  }
}

/** Creates a database file in rollback mode and returns the connection, left inside a write. */
function writeNewFile(path: string): Database.Database {
  const db = new Database(path)
  db.exec('BEGIN IMMEDIATE; CREATE TABLE held (x INTEGER)')
  return db
}

describe('sqlite store', () => {
  let folder: string
  const open: Store[] = []

  function openStore(path: string, options?: Parameters<typeof createSqliteStore>[1]): Store {
    const store = createSqliteStore(path, options)
    open.push(store)
    return store
  }

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'))
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()))
    rmSync(folder, { recursive: true, force: true })
  })

  it('records each migration with its time and does not re-apply it on reopen', async () => {
    const path = join(folder, 'store.db')
    await openStore(path, { clock: () => 1000 }).close()
    const expected = MIGRATIONS.map((m) => ({ version: m.version, applied_at: 1000 }))
    assert.deepEqual(readMigrations(path), expected)

    await openStore(path, { clock: () => 2000 }).close()
    assert.deepEqual(readMigrations(path), expected)
  })

  it('applies a migration appended to the list on the next open, once', () => {
    const path = join(folder, 'store.db')
    openStore(path)
    const next = MIGRATIONS.length + 1
    const later = [
      ...MIGRATIONS,
      { version: next, name: 'extra', up: 'CREATE TABLE extra (x INTEGER)' },
    ]
    const db = new Database(path)
    try {
      assert.deepEqual(migrate(db, 3000, later), [next])
      assert.deepEqual(migrate(db, 4000, later), [])
      assert.deepEqual(readMigrations(path).at(-1), { version: next, applied_at: 3000 })
    } finally {
      db.close()
    }
  })

  it('rolls back a failing migration and records nothing of it', () => {
    const path = join(folder, 'store.db')
    openStore(path)
    const next = MIGRATIONS.length + 1
    const broken = [
      ...MIGRATIONS,
      { version: next, name: 'broken', up: 'CREATE TABLE half (x INTEGER); NOT SQL' },
    ]
    const db = new Database(path)
    try {
      assert.throws(() => migrate(db, 3000, broken))
      assert.equal(readMigrations(path).length, MIGRATIONS.length)
      const half = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'half'").get()
      assert.equal(half, undefined)
    } finally {
      db.close()
    }
  })

  it('applies each migration once when several processes open a fresh file at once', async () => {
    const path = join(folder, 'race.db')
    await openConcurrently(path, 8)
    assert.deepEqual(
      readMigrations(path).map((m) => m.version),
      MIGRATIONS.map((m) => m.version),
    )
  })

  it('waits for another process writing a new file before putting it in WAL mode', async () => {
    // SQLite answers SQLITE_BUSY at once, without waiting busy_timeout, to a switch into WAL while
    // another connection writes a file still in rollback mode: what several processes opening a
    // new file at once run into. The store retries until its busy timeout.
    const path = join(folder, 'held.db')
    const other = writeNewFile(path)
    const outcome = await openInWorker(path, { busyTimeoutMs: 5000 }, () => {
      setTimeout(() => other.exec('COMMIT'), 200)
    })
    other.close()
    assert.equal(outcome, 'opened')
    assert.deepEqual(
      readMigrations(path).map((m) => m.version),
      MIGRATIONS.map((m) => m.version),
    )
  })

  it('gives up with StoreUnavailableError when a new file stays locked past the busy timeout', async () => {
    const path = join(folder, 'held.db')
    const other = writeNewFile(path)
    try {
      const outcome = await openInWorker(path, { busyTimeoutMs: 150 }, () => {})
      assert.equal(outcome, 'the SQLite database is unavailable')
    } finally {
      other.exec('COMMIT')
      other.close()
    }
  })

  it('refuses a database migrated by a newer Latchkey', () => {
    const path = join(folder, 'store.db')
    openStore(path)
    const db = new Database(path)
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(999, NOW)
    db.close()
    assert.throws(() => createSqliteStore(path), /newer/)
  })

  it('creates the missing parent folders of the database file', async () => {
    const path = join(folder, 'a', 'b', 'store.db')
    const store = openStore(path)
    await store.ping()
    assert.ok(existsSync(path))
  })

  it('keeps clients, keys, tokens and revocations across close and reopen', async () => {
    const path = join(folder, 'store.db')
    const first = openStore(path)
    await first.createClient(client)
    await first.insertKey(signingKey)
    await first.saveToken(opaqueToken)
    await first.saveToken({ ...opaqueToken, hash: 'h2', jti: 'j2' })
    await first.revokeToken('h2', { ...revocation('h2'), kind: 'token' })
    const seq = await first.appendRevocation(revocation('j9'))
    await first.close()

    const second = openStore(path)
    assert.deepEqual(await second.getClient('svc'), client)
    assert.deepEqual(await second.listKeys(), [signingKey])
    assert.deepEqual(await second.findToken('h1', NOW), opaqueToken)
    assert.equal(await second.findToken('h2', NOW), null)
    const events = await second.listRevocations(0, 10)
    assert.deepEqual(
      events.map((e) => [e.kind, e.value]),
      [
        ['token', 'h2'],
        ['jti', 'j9'],
      ],
    )
    assert.equal(events.at(-1)?.seq, seq)
    assert.ok((await second.appendRevocation(revocation('j10'))) > seq)
  })

  it('upgrades a version 1 database to the latest schema and keeps its data', async () => {
    const path = join(folder, 'store.db')
    const db = new Database(path)
    try {
      assert.deepEqual(migrate(db, 1000, MIGRATIONS.slice(0, 1)), [1])
      db.prepare(
        `INSERT INTO opaque_tokens (hash, client_id, sub, scope, aud, jti, sid, issued_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run('h1', 'svc', 'svc', 'read', 'https://api.example.com', 'j1', null, NOW, NOW + 300)
    } finally {
      db.close()
    }

    const store = openStore(path, { clock: () => 2000 })
    assert.deepEqual(
      readMigrations(path).map((m) => [m.version, m.applied_at]),
      [[1, 1000], ...MIGRATIONS.slice(1).map((m) => [m.version, 2000])],
    )
    assert.deepEqual(await store.findToken('h1', NOW), opaqueToken)
    // The new tables are there and answer.
    await store.createUser({
      id: 'u1',
      username: 'alice',
      passwordHash: 'h',
      createdAt: NOW,
      admin: false,
      ...NO_PROFILE,
    })
    assert.equal((await store.getUserByUsername('alice'))?.id, 'u1')
    assert.equal(await store.pruneSessions(NOW), 0)
  })

  it('upgrades clients to an auth method and a list of audiences, keeping the old audience first', async () => {
    const path = join(folder, 'store.db')
    const db = new Database(path)
    try {
      migrate(db, 1000, MIGRATIONS.slice(0, 4))
      const insert = db.prepare(
        `INSERT INTO clients (client_id, secret_hash, grants, scopes, redirect_uris, audience,
           access_token_format, access_token_ttl, resource_server, created_at)
         VALUES (?, ?, '["client_credentials"]', '[]', '[]', ?, 'jwt', 300, 0, ?)`,
      )
      insert.run('svc', 'hash', 'https://api.example.com', NOW)
      insert.run('plain', 'hash', null, NOW)
      insert.run('spa', null, null, NOW)
    } finally {
      db.close()
    }
    const store = openStore(path)
    const fields = (c: ClientRecord | null) => ({
      authMethod: c?.authMethod,
      audiences: c?.audiences,
      exchangeAudiences: c?.exchangeAudiences,
      requirePar: c?.requirePar,
      jwks: c?.jwks,
      jwksUri: c?.jwksUri,
      allowedOrigins: c?.allowedOrigins,
      displayName: c?.displayName,
      logoUri: c?.logoUri,
      thirdParty: c?.thirdParty,
      postLogoutRedirectUris: c?.postLogoutRedirectUris,
      backchannelLogoutUri: c?.backchannelLogoutUri,
    })
    const base = {
      exchangeAudiences: [],
      requirePar: false,
      jwks: null,
      jwksUri: null,
      allowedOrigins: [],
      displayName: null,
      logoUri: null,
      thirdParty: false,
      postLogoutRedirectUris: [],
      backchannelLogoutUri: null,
    }
    assert.deepEqual(fields(await store.getClient('svc')), {
      ...base,
      // A secret, no method chosen: either secret method, as before the migration.
      authMethod: null,
      audiences: ['https://api.example.com'],
    })
    assert.deepEqual(fields(await store.getClient('plain')), {
      ...base,
      authMethod: null,
      audiences: [],
    })
    assert.deepEqual(fields(await store.getClient('spa')), {
      ...base,
      authMethod: 'none',
      audiences: [],
    })
  })

  it('starts prunedThrough at the highest seq handed out when upgrading a database with events', async () => {
    const path = join(folder, 'store.db')
    const db = new Database(path)
    try {
      migrate(db, 1000, MIGRATIONS.slice(0, 2))
      const insert = db.prepare(
        `INSERT INTO revocations (kind, value, client_id, created_at, expires_at)
         VALUES ('jti', ?, NULL, ?, ?)`,
      )
      for (const value of ['a', 'b', 'c']) insert.run(value, NOW, NOW + 300)
      // What an older server's pruning did: the rows are gone, their seqs were handed out.
      db.prepare("DELETE FROM revocations WHERE value IN ('b', 'c')").run()
    } finally {
      db.close()
    }
    const store = openStore(path)
    // It cannot know what was pruned before, so every reader below the last seq reloads once.
    assert.equal(await store.prunedThrough(), 3)
    assert.equal(await store.pruneRevocations(NOW + 301), 1)
    assert.equal(await store.prunedThrough(), 3)
    // A fresh database starts at 0, and the mark survives reopening.
    const fresh = join(folder, 'fresh.db')
    const first = openStore(fresh)
    await first.appendRevocation({ ...revocation('x'), expiresAt: NOW - 1 })
    await first.pruneRevocations(NOW)
    await first.close()
    assert.equal(await openStore(fresh).prunedThrough(), 1)
  })

  it('runs the database file in WAL mode', () => {
    const path = join(folder, 'store.db')
    openStore(path)
    const db = new Database(path, { readonly: true })
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    } finally {
      db.close()
    }
  })

  it('shows each of two stores on one file the other one\u2019s writes at once', async () => {
    const path = join(folder, 'store.db')
    const a = openStore(path)
    const b = openStore(path)
    const jti = [{ kind: 'jti' as const, value: 'j1' }]

    assert.equal(await a.isRevoked(jti, NOW, NOW), false)
    await b.appendRevocation(revocation('j1'))
    assert.equal(await a.isRevoked(jti, NOW, NOW), true)

    await a.createClient(client)
    await a.saveToken(opaqueToken)
    assert.deepEqual(await b.getClient('svc'), client)
    assert.deepEqual(await b.findToken('h1', NOW), opaqueToken)
    assert.equal(await b.revokeToken('h1', { ...revocation('h1'), kind: 'token' }), true)
    assert.equal(await a.findToken('h1', NOW), null)
    assert.equal(await a.isRevoked([{ kind: 'token', value: 'h1' }], NOW, NOW), true)
  })

  it('rejects a write with StoreUnavailableError when another process holds the lock too long', async () => {
    const path = join(folder, 'store.db')
    const store = openStore(path, { busyTimeoutMs: 50 })
    await store.saveToken(opaqueToken)
    const other = new Database(path)
    try {
      other.exec('BEGIN IMMEDIATE')
      await assert.rejects(store.appendRevocation(revocation('j1')), StoreUnavailableError)
      await assert.rejects(store.revokeToken('h1', revocation('h1')), StoreUnavailableError)
      // WAL readers are not blocked by a writer.
      assert.deepEqual(await store.findToken('h1', NOW), opaqueToken)
      other.exec('ROLLBACK')
      assert.equal(await store.revokeToken('h1', revocation('h1')), true)
    } finally {
      other.close()
    }
  })

  it('throws StoreUnavailableError when the parent folder cannot be created', () => {
    const blocker = join(folder, 'not-a-folder')
    writeFileSync(blocker, 'a regular file')
    assert.throws(() => createSqliteStore(join(blocker, 'sub', 'store.db')), StoreUnavailableError)
    assert.throws(() => createSqliteStore(join(blocker, 'store.db')), StoreUnavailableError)
  })

  it('throws StoreUnavailableError when the path is a folder', () => {
    const path = join(folder, 'a-folder')
    mkdirSync(path)
    assert.throws(() => createSqliteStore(path), StoreUnavailableError)
  })
})
