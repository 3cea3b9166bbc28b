/**
 * The PostgreSQL engine: the one conformance suite, then what is particular to it — migrations,
 * several nodes starting at once, persistence, two stores on one database. Races and failures are
 * in `./postgres_sessions.test.ts` and `./postgres_faults.test.ts`. Each file or test works in a
 * database of its own (`./postgres_databases.ts`), dropped after.
 */

import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import pg from 'pg'
import { ConfigError } from '../../src/errors.js'
import { createPostgresStore } from '../../src/store/postgres/index.js'
import { MIGRATIONS, migrate } from '../../src/store/postgres/migrations.js'
import type { Store } from '../../src/store/types.js'
import { runStoreConformance } from './conformance.js'
import { NOW, client, revocation, token } from './fixtures.js'
import { createTestDatabase, type TestDatabase } from './postgres_databases.js'

// One database for the whole suite, emptied before each test: creating one per test would cost
// ~150 ms each, over a hundred times.
let conformanceDatabase: Promise<TestDatabase> | undefined
runStoreConformance(
  'postgres',
  async () => {
    conformanceDatabase ??= createTestDatabase()
    const database = await conformanceDatabase
    await database.reset()
    return createPostgresStore(database.url, { poolSize: 4 })
  },
  async () => (await conformanceDatabase)?.drop(),
)

const signingKey = {
  kid: 'k1',
  alg: 'ES256' as const,
  publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1', alg: 'ES256', use: 'sig' },
  privateKey: '-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n',
  createdAt: NOW,
  activatesAt: NOW,
  supersededAt: null,
  publishedUntil: null,
  retiredAt: null,
}

describe('postgres store: migrations', () => {
  let database: TestDatabase
  const open: Store[] = []

  async function openStore(options?: Parameters<typeof createPostgresStore>[1]): Promise<Store> {
    const store = await createPostgresStore(database.url, { poolSize: 4, ...options })
    open.push(store)
    return store
  }

  /** A connection of the test's own to its database, for `migrate`. */
  async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const connection = new pg.Client({ connectionString: database.url })
    await connection.connect()
    try {
      return await work(connection)
    } finally {
      await connection.end()
    }
  }

  const readMigrations = () =>
    database.query<{ version: number; applied_at: string }>(
      'SELECT version, applied_at FROM schema_migrations ORDER BY version',
    )

  beforeEach(async () => {
    database = await createTestDatabase()
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()))
    await database.drop()
  })

  it('records each migration with its time and does not re-apply it on reopen', async () => {
    await (await openStore({ clock: () => 1000 })).close()
    const expected = MIGRATIONS.map((m) => ({ version: m.version, applied_at: '1000' }))
    assert.deepEqual(await readMigrations(), expected)

    await (await openStore({ clock: () => 2000 })).close()
    assert.deepEqual(await readMigrations(), expected)
  })

  it('applies a migration appended to the list on the next open, once', async () => {
    await openStore()
    const next = MIGRATIONS.length + 1
    const later = [
      ...MIGRATIONS,
      { version: next, name: 'extra', up: 'CREATE TABLE extra (x integer)' },
    ]
    await withClient(async (connection) => {
      assert.deepEqual(await migrate(connection, 3000, later), [next])
      assert.deepEqual(await migrate(connection, 4000, later), [])
    })
    assert.deepEqual((await readMigrations()).at(-1), { version: next, applied_at: '3000' })
  })

  it('rolls back a failing migration and records nothing of it', async () => {
    await openStore()
    const next = MIGRATIONS.length + 1
    const broken = [
      ...MIGRATIONS,
      { version: next, name: 'broken', up: 'CREATE TABLE half (x integer); NOT SQL' },
    ]
    await withClient((connection) => assert.rejects(migrate(connection, 3000, broken)))
    assert.equal((await readMigrations()).length, MIGRATIONS.length)
    const [half] = await database.query<{ found: string | null }>(
      "SELECT to_regclass('half')::text AS found",
    )
    assert.equal(half?.found, null)
  })

  it('applies each migration once when 8 nodes open an empty database at once', async () => {
    const stores = await Promise.all(Array.from({ length: 8 }, () => openStore()))
    assert.deepEqual(
      (await readMigrations()).map((m) => m.version),
      MIGRATIONS.map((m) => m.version),
    )
    // Every one of them is usable, and they share one schema.
    await stores[0]!.createClient(client('svc'))
    for (const store of stores) assert.notEqual(await store.getClient('svc'), null)
  })

  it('refuses a database migrated by a newer Latchkey with ConfigError', async () => {
    await (await openStore()).close()
    await database.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
      999,
      NOW,
    ])
    await assert.rejects(createPostgresStore(database.url), (error) => {
      assert.ok(error instanceof ConfigError)
      assert.match(error.message, /newer/)
      return true
    })
  })

  it('upgrades clients to an auth method and a list of audiences, keeping the old audience first', async () => {
    await withClient((connection) => migrate(connection, 1000, MIGRATIONS.slice(0, 3)))
    for (const [id, secret, audience] of [
      ['svc', 'hash', 'https://api.example.com'],
      ['plain', 'hash', null],
      ['spa', null, null],
    ]) {
      await database.query(
        `INSERT INTO clients (client_id, secret_hash, grants, scopes, redirect_uris, audience,
           access_token_format, access_token_ttl, resource_server, created_at)
         VALUES ($1, $2, '{client_credentials}', '{}', '{}', $3, 'jwt', 300, false, $4)`,
        [id, secret, audience, NOW],
      )
    }
    const store = await openStore()
    const fields = async (id: string) => {
      const c = await store.getClient(id)
      return {
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
      }
    }
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
    assert.deepEqual(await fields('svc'), {
      ...base,
      // A secret, no method chosen: either secret method, as before the migration.
      authMethod: null,
      audiences: ['https://api.example.com'],
    })
    assert.deepEqual(await fields('plain'), {
      ...base,
      authMethod: null,
      audiences: [],
    })
    assert.deepEqual(await fields('spa'), { ...base, authMethod: 'none', audiences: [] })
  })
})

// These need no empty database: one for the group, emptied before each test.
describe('postgres store: one database, several stores', () => {
  let database: TestDatabase
  const open: Store[] = []

  async function openStore(): Promise<Store> {
    const store = await createPostgresStore(database.url, { poolSize: 4 })
    open.push(store)
    return store
  }

  before(async () => {
    database = await createTestDatabase()
  })
  beforeEach(() => database.reset())
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()))
  })
  after(() => database.drop())

  it('keeps clients, keys, tokens, revocations and the pruned mark across close and reopen', async () => {
    const first = await openStore()
    await first.createClient(client('svc', { redirectUris: ['https://app.example.com/cb'] }))
    await first.insertKey(signingKey)
    await first.saveToken(token('h1'))
    await first.saveToken(token('h2'))
    await first.revokeToken('h2', revocation('token', 'h2'))
    const pruned = await first.appendRevocation(revocation('jti', 'old', { expiresAt: NOW - 1 }))
    const seq = await first.appendRevocation(revocation('jti', 'j9'))
    assert.equal(await first.pruneRevocations(NOW), 1)
    await first.close()

    const second = await openStore()
    assert.deepEqual(
      await second.getClient('svc'),
      client('svc', { redirectUris: ['https://app.example.com/cb'] }),
    )
    assert.deepEqual(await second.listKeys(), [signingKey])
    assert.deepEqual(await second.findToken('h1', NOW), token('h1'))
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
    assert.equal(await second.prunedThrough(), pruned)
    assert.ok((await second.appendRevocation(revocation('jti', 'j10'))) > seq)
  })

  it('shows each of two stores on one database the other one\u2019s writes at once', async () => {
    const a = await openStore()
    const b = await openStore()
    const jti = [{ kind: 'jti' as const, value: 'j1' }]

    assert.equal(await a.isRevoked(jti, NOW, NOW), false)
    await b.appendRevocation(revocation('jti', 'j1'))
    assert.equal(await a.isRevoked(jti, NOW, NOW), true)

    await a.createClient(client('svc'))
    await a.saveToken(token('h1'))
    assert.deepEqual(await b.getClient('svc'), client('svc'))
    assert.deepEqual(await b.findToken('h1', NOW), token('h1'))
    assert.equal(await b.revokeToken('h1', revocation('token', 'h1')), true)
    assert.equal(await a.findToken('h1', NOW), null)
    assert.equal(await a.isRevoked([{ kind: 'token', value: 'h1' }], NOW, NOW), true)
    assert.equal(await a.revokeToken('h1', revocation('token', 'h1')), false)
  })

  it('wakes a watcher of one store when another store appends a revocation, at commit', async () => {
    const a = await openStore()
    const b = await openStore()
    let calls = 0
    let wake: () => void = () => {}
    const stop = a.watchRevocations!(() => {
      calls++
      wake()
    })
    try {
      const next = (): Promise<number> => {
        const started = performance.now()
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no notice within 2 s')), 2000)
          wake = () => {
            clearTimeout(timer)
            resolve(performance.now() - started)
          }
        })
      }
      await next() // the call that follows each (re)connection
      const alone = next()
      await b.appendRevocation(revocation('jti', 'j1'))
      assert.ok((await alone) < 1000)
      await b.saveToken(token('h1'))
      const inTransaction = next()
      assert.equal(await b.revokeToken('h1', revocation('token', 'h1')), true)
      assert.ok((await inTransaction) < 1000)
      assert.ok(calls >= 3)
    } finally {
      await stop()
    }
  })

  it('keeps the pruned mark at the highest seq ever pruned, whichever store prunes', async () => {
    const a = await openStore()
    const b = await openStore()
    const first = await a.appendRevocation(revocation('jti', 'j1', { expiresAt: NOW }))
    const second = await b.appendRevocation(revocation('jti', 'j2', { expiresAt: NOW + 10 }))
    assert.equal(await b.prunedThrough(), 0)
    assert.equal(await a.pruneRevocations(NOW + 1), 1)
    assert.equal(await b.prunedThrough(), first)
    // A prune that deletes nothing leaves the mark alone.
    assert.equal(await b.pruneRevocations(NOW + 1), 0)
    assert.equal(await a.prunedThrough(), first)
    // Two prunes at once: one deletes the event, the other finds it gone.
    const counts = await Promise.all([a.pruneRevocations(NOW + 11), b.pruneRevocations(NOW + 11)])
    assert.deepEqual(counts.sort(), [0, 1])
    assert.equal(await a.prunedThrough(), second)
    assert.equal(await b.prunedThrough(), second)
  })

  it('stores times as bigint, lists as text[] and the JWK as jsonb, and reads them back', async () => {
    const store = await openStore()
    await store.createClient(client('svc', { scopes: ['a b', 'c,d', '"e"', ''] }))
    await store.insertKey(signingKey)
    assert.deepEqual((await store.getClient('svc'))?.scopes, ['a b', 'c,d', '"e"', ''])
    const [row] = await database.query<{ scopes: string; jwk: string; created: string }>(
      `SELECT pg_typeof(scopes)::text AS scopes, pg_typeof(public_jwk)::text AS jwk,
         pg_typeof(clients.created_at)::text AS created
       FROM clients, signing_keys`,
    )
    assert.deepEqual(row, { scopes: 'text[]', jwk: 'jsonb', created: 'bigint' })
  })
})
