import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createTestDatabase } from '../../test/store/postgres_databases.js'
import { createPostgresStore } from '../store/postgres/index.js'
import { createSqliteStore } from '../store/sqlite/index.js'
import type { Store } from '../store/types.js'
import { CONSOLE_CLIENT_ID, consoleUrl, ensureConsoleClient } from './console_client.js'

const NOW = 1_800_000_000

describe('the web console client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-console-client-'))
  const stores: Store[] = []
  const open = (name: string): Store => {
    const store = createSqliteStore(join(dir, name))
    stores.push(store)
    return store
  }
  after(async () => {
    for (const store of stores) await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('is created once by nodes starting together on one database', async () => {
    // Four connections to one file, as four nodes: each reads "absent", then all try to create.
    const nodes = ['race.db', 'race.db', 'race.db', 'race.db'].map(open)
    const outcomes = await Promise.all(
      nodes.map((store) => ensureConsoleClient(store, 'https://id.example.com', NOW)),
    )
    assert.deepEqual(outcomes.filter((o) => o === 'created').length, 1, String(outcomes))
    assert.ok(
      outcomes.every((o) => o === 'created' || o === 'unchanged'),
      String(outcomes),
    )
    const clients = await nodes[0]!.listClients()
    assert.deepEqual(
      clients.map((c) => c.clientId),
      [CONSOLE_CLIENT_ID],
    )
    const audit = await nodes[0]!.listAudit({ limit: 10 })
    assert.deepEqual(
      audit.map((e) => [e.kind, e.subject, e.actor]),
      [['client.created', CONSOLE_CLIENT_ID, '-']],
    )
  })

  it('is a first-party public client of the console page, for openid and latchkey:admin', async () => {
    const store = open('shape.db')
    assert.equal(await ensureConsoleClient(store, 'https://id.example.com/auth', NOW), 'created')
    const client = (await store.getClient(CONSOLE_CLIENT_ID))!
    assert.equal(client.authMethod, 'none')
    assert.equal(client.secretHash, null)
    assert.equal(client.thirdParty, false)
    assert.deepEqual(client.scopes, ['openid', 'latchkey:admin'])
    assert.deepEqual(client.grants, ['authorization_code', 'refresh_token'])
    assert.deepEqual(client.redirectUris, ['https://id.example.com/auth/console/'])
    assert.deepEqual(client.postLogoutRedirectUris, ['https://id.example.com/auth/console/'])
    assert.equal(
      await ensureConsoleClient(store, 'https://id.example.com/auth', NOW + 5),
      'unchanged',
    )
  })

  it('follows a new issuer, keeping what an operator changed outside its managed fields', async () => {
    const store = open('moved.db')
    await ensureConsoleClient(store, 'https://old.example.com', NOW)
    const edited = (await store.getClient(CONSOLE_CLIENT_ID))!
    await store.updateClient({
      ...edited,
      displayName: 'Ops console',
      accessTokenTtl: 120,
      scopes: ['openid'],
    })
    assert.equal(await ensureConsoleClient(store, 'https://new.example.com', NOW + 1), 'updated')
    const moved = (await store.getClient(CONSOLE_CLIENT_ID))!
    assert.deepEqual(moved.redirectUris, [consoleUrl('https://new.example.com')])
    assert.deepEqual(moved.scopes, ['openid', 'latchkey:admin'])
    assert.equal(moved.displayName, 'Ops console')
    assert.equal(moved.accessTokenTtl, 120)
    const [updated] = await store.listAudit({ limit: 1 })
    assert.equal(updated?.kind, 'client.updated')
    assert.deepEqual(updated?.details, {
      fields: ['scopes', 'redirectUris', 'postLogoutRedirectUris'],
    })
  })

  it('is not registered for a plain-http issuer other than loopback', async () => {
    const store = open('http.db')
    assert.equal(await ensureConsoleClient(store, 'http://id.internal:8080', NOW), 'skipped')
    assert.equal(await store.getClient(CONSOLE_CLIENT_ID), null)
    assert.equal(await ensureConsoleClient(store, 'http://127.0.0.1:8080', NOW), 'created')
  })

  it('is created once by nodes starting together on one PostgreSQL database', async () => {
    const database = await createTestDatabase()
    const nodes: Store[] = []
    try {
      // Migrated once first, as the first node to start does.
      nodes.push(await createPostgresStore(database.url, { poolSize: 2 }))
      for (let i = 0; i < 3; i++)
        nodes.push(await createPostgresStore(database.url, { poolSize: 2 }))
      const outcomes = await Promise.all(
        nodes.map((store) => ensureConsoleClient(store, 'https://id.example.com', NOW)),
      )
      assert.equal(outcomes.filter((o) => o === 'created').length, 1, String(outcomes))
      assert.deepEqual(
        (await nodes[0]!.listClients()).map((c) => c.clientId),
        [CONSOLE_CLIENT_ID],
      )
    } finally {
      for (const store of nodes) await store.close()
      await database.drop()
    }
  })
})
