/**
 * The programmatic API (`import … from 'latchkey'`, docs/API.md): a server started in-process on a
 * store, set up with the CLI's own operations, answering over HTTP, closed without leaving a handle.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import {
  ConfigError,
  createClient,
  createUser,
  listClients,
  listKeys,
  openStore,
  rotateKey,
  startServer,
  UsageError,
  type Store,
} from 'latchkey'
import { basic, cli, request, tempDir } from '../helpers/server.js'

const CONSUMER = resolve(fileURLToPath(import.meta.url), '../../fixtures/api_consumer.js')

describe("the programmatic API, imported as 'latchkey'", () => {
  let dir: string
  let cleanup: () => void
  before(() => ({ dir, cleanup } = tempDir()))
  after(() => cleanup())

  it('runs an application test end to end in its own process, which then exits by itself', () => {
    const run = spawnSync(process.execPath, [CONSUMER, dir], { encoding: 'utf8', timeout: 60_000 })
    // A handle left open (socket, timer, database) would keep the process alive until the timeout.
    assert.equal(run.signal, null, `did not exit on its own: ${run.stderr}`)
    assert.equal(run.status, 0, run.stderr)
    const out = JSON.parse(run.stdout) as {
      status: number
      issuer: string
      payload: Record<string, unknown>
    }
    assert.equal(out.status, 200)
    assert.equal(out.payload.iss, out.issuer)
    assert.equal(out.payload.client_id, 'orders-test')
    assert.match(out.issuer, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.notEqual(out.issuer, 'http://127.0.0.1:0')
  })

  it('opens and closes its own store from a URL, which the CLI then reads', async () => {
    const db = `sqlite:${join(dir, 'own.db')}`
    const server = await startServer({ db, port: 0, leeway: 10 })
    assert.equal(server.config.leeway, 10)
    const health = await request(`${server.url}/.well-known/oauth-authorization-server`)
    assert.equal(health.status, 200)
    await server.close()
    await server.close()
    const keys = cli(['keys', 'list', '--db', db])
    assert.equal(keys.status, 0, keys.stderr)
    assert.deepEqual(
      (keys.json as { alg: string; state: string }[]).map((k) => [k.alg, k.state]),
      [
        ['ES256', 'active'],
        ['RS256', 'active'],
      ],
    )
  })

  it('sets up clients, users and keys with the operations the CLI runs', async () => {
    const store: Store = await openStore(`sqlite:${join(dir, 'setup.db')}`)
    const server = await startServer({ db: store, port: 0 })
    try {
      const created = await createClient(store, {
        id: 'svc',
        grant: ['client_credentials'],
        scope: 'a b',
        accessTokenTtl: 60,
      })
      assert.equal(created.access_token_ttl, 60)
      assert.ok(created.client_secret)
      // Beside the web console's, which every server start registers.
      assert.deepEqual(
        (await listClients(store)).map((c) => c.client_id),
        ['latchkey-console', 'svc'],
      )
      await assert.rejects(
        createClient(store, { id: 'svc', grant: ['client_credentials'] }),
        UsageError,
      )
      const token = await request(`${server.url}/token`, {
        method: 'POST',
        headers: {
          authorization: basic('svc', created.client_secret ?? ''),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=a',
      })
      assert.equal(token.status, 200)
      const user = await createUser(store, { username: 'alice', password: 'correct horse 1' })
      assert.equal(user.username, 'alice')
      await assert.rejects(createUser(store, { username: 'bob', password: '' }), UsageError)
      const rotated = await rotateKey(store, { activateIn: 0 })
      assert.ok((await listKeys(store)).some((k) => k.kid === rotated.kid))
    } finally {
      await server.close()
      await store.close()
    }
  })

  it('refuses an unknown or invalid setting with ConfigError before opening the store', async () => {
    const db = `sqlite:${join(dir, 'never.db')}`
    await assert.rejects(startServer({ db, port: 0, leway: 5 } as never), ConfigError)
    await assert.rejects(startServer({ db, port: 70_000 }), ConfigError)
    await assert.rejects(startServer({ db, bodyLimit: 1 }), ConfigError)
    const keys = cli(['keys', 'list', '--db', db])
    assert.notEqual(keys.status, 0, 'no database should have been created')
  })
})
