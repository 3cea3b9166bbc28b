/**
 * The PostgreSQL engine when the server cannot serve: nothing listening, a server that never
 * answers, a connection cut or terminated under a running store. The machine's PostgreSQL is never
 * stopped: the store reaches it through a TCP relay in this process, which the tests cut and restore.
 */

import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { ConfigError, StoreUnavailableError } from '../../src/errors.js'
import { openStore } from '../../src/store/index.js'
import { createPostgresStore } from '../../src/store/postgres/index.js'
import type { Store } from '../../src/store/types.js'
import { NOW, client, revocation, session, token } from './fixtures.js'
import { MAINTENANCE_URL, createTestDatabase, type TestDatabase } from './postgres_databases.js'

const PASSWORD = 'hunter2-not-shown'

/** A port on which nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/**
 * A TCP relay to the real server. `cut()` closes it and every connection through it; `restore()`
 * listens again on the same port; a `silent` relay accepts connections and never answers.
 */
class Relay {
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  port = 0
  /** While set, connections stay open and nothing goes through, as behind a dead router. */
  frozen = false

  constructor(private readonly silent = false) {}

  async start(): Promise<void> {
    const upstream = new URL(MAINTENANCE_URL)
    this.server = net.createServer((socket) => {
      this.sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => this.sockets.delete(socket))
      if (this.silent) return
      const server = net.connect(Number(upstream.port || 5432), upstream.hostname)
      this.sockets.add(server)
      server.on('error', () => socket.destroy())
      server.on('close', () => {
        this.sockets.delete(server)
        socket.destroy()
      })
      socket.on('close', () => server.destroy())
      // By hand rather than pipe(), so that `frozen` can swallow what either side sends.
      socket.on('data', (data) => this.frozen || server.write(data))
      server.on('data', (data) => this.frozen || socket.write(data))
    })
    this.server.listen(this.port, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = (this.server.address() as net.AddressInfo).port
  }

  url(database: string): string {
    const url = new URL(MAINTENANCE_URL)
    url.host = `127.0.0.1:${this.port}`
    url.pathname = `/${database}`
    return url.href
  }

  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    const server = this.server
    this.server = undefined
    if (server) await new Promise((resolve) => server.close(resolve))
  }

  restore(): Promise<void> {
    return this.start()
  }
}

describe('postgres store: when the server cannot serve', () => {
  let database: TestDatabase
  const open: Store[] = []
  const relays: Relay[] = []

  async function relay(silent = false): Promise<Relay> {
    const created = new Relay(silent)
    relays.push(created)
    await created.start()
    return created
  }

  before(async () => {
    database = await createTestDatabase()
  })
  beforeEach(() => database.reset())
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()))
    await Promise.all(relays.splice(0).map((r) => r.cut()))
  })
  after(() => database.drop())

  it('refuses to open on a closed port with StoreUnavailableError naming the host, not the password', async () => {
    const port = await closedPort()
    const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/latchkey`
    for (const opening of [createPostgresStore, openStore]) {
      await assert.rejects(opening(url), (error) => {
        assert.ok(error instanceof StoreUnavailableError)
        assert.ok(error.message.includes(`127.0.0.1:${port}/latchkey`), error.message)
        assert.ok(!error.message.includes(PASSWORD))
        return true
      })
    }
  })

  it('refuses to open a database that does not exist with ConfigError naming it', async () => {
    const url = new URL(MAINTENANCE_URL)
    url.password = PASSWORD
    url.pathname = '/latchkey_t_missing'
    await assert.rejects(openStore(url.href), (error) => {
      assert.ok(error instanceof ConfigError)
      assert.match(error.message, /^db: .*latchkey_t_missing.*does not exist/)
      assert.ok(!error.message.includes(PASSWORD))
      return true
    })
  })

  it('gives up opening on a server that never answers, after the connect timeout', async () => {
    const silent = await relay(true)
    const started = Date.now()
    await assert.rejects(
      createPostgresStore(silent.url(database.name), { connectTimeoutMs: 300 }),
      StoreUnavailableError,
    )
    assert.ok(Date.now() - started < 2000)
  })

  it('rejects with StoreUnavailableError while cut off, and recovers by itself', async () => {
    const cable = await relay()
    const store = await createPostgresStore(cable.url(database.name), {
      poolSize: 2,
      connectTimeoutMs: 500,
      pingTimeoutMs: 500,
    })
    open.push(store)
    await store.createClient(client('svc'))
    await store.saveToken(token('h1'))

    await cable.cut()
    await assert.rejects(store.ping(), StoreUnavailableError)
    await assert.rejects(store.getClient('svc'), StoreUnavailableError)
    // A transaction too: a revocation that cannot be made durable is not acknowledged.
    await assert.rejects(store.revokeToken('h1', revocation('token', 'h1')), StoreUnavailableError)
    await assert.rejects(store.findToken('h1', NOW), StoreUnavailableError)

    await cable.restore()
    await store.ping()
    assert.notEqual(await store.getClient('svc'), null)
    assert.equal(await store.revokeToken('h1', revocation('token', 'h1')), true)
    assert.equal(await store.findToken('h1', NOW), null)
  })

  it('rejects ping within its timeout when the server stops answering', async () => {
    const cable = await relay()
    const store = await createPostgresStore(cable.url(database.name), {
      poolSize: 1,
      pingTimeoutMs: 200,
      queryTimeoutMs: 500,
      connectTimeoutMs: 300,
    })
    open.push(store)
    await store.ping()
    cable.frozen = true
    const started = Date.now()
    await assert.rejects(store.ping(), StoreUnavailableError)
    assert.ok(Date.now() - started < 1000, `ping took ${Date.now() - started} ms`)
    // A query gives up rather than hang: the busy connection at the query timeout, a new one at the
    // connect timeout.
    await assert.rejects(store.getClient('svc'), StoreUnavailableError)
    // Closing waits for calls in flight, each bounded by the query timeout: it cannot hang.
    const closing = Date.now()
    await store.close()
    assert.ok(Date.now() - closing < 2000, `close took ${Date.now() - closing} ms`)
  })

  it('fails a call whose connection the server terminates, then serves from a new one', async () => {
    const store = await createPostgresStore(database.url, { poolSize: 2 })
    open.push(store)
    await store.createSession(session('s1'), null, null)
    // Hold the session's row, so that ending it waits inside the server…
    await database.query('BEGIN')
    await database.query("SELECT 1 FROM sessions WHERE id = 's1' FOR UPDATE")
    // The expectation is attached at once: the rejection may come before the terminate query's
    // own answer, and a rejection nobody handles yet fails the run.
    const ending = assert.rejects(
      store.revokeSession('s1', revocation('sid', 's1')),
      StoreUnavailableError,
    )
    try {
      // …then terminate the store's connections (57P01, as an administrator or a failover would).
      for (let waited = 0; waited < 50; waited++) {
        const [row] = await database.query<{ waiting: string }>(
          `SELECT count(*) AS waiting FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'latchkey'
             AND wait_event_type = 'Lock'`,
        )
        if (row?.waiting === '1') break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      await database.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'latchkey'`,
      )
      await ending
    } finally {
      await database.query('ROLLBACK')
    }
    assert.equal((await store.getSession('s1'))?.revokedAt, null)
    assert.deepEqual(await store.listRevocations(0, 10), [])
    assert.equal(await store.revokeSession('s1', revocation('sid', 's1')), true)
  })
})
