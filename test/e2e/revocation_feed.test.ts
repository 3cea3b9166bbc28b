import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import { createSqliteStore } from '../../src/store/sqlite/index.js'
import { openStream } from '../helpers/sse.js'
import {
  basic,
  createClient,
  request,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

interface WireEvent {
  seq: number
  kind: string
  value: string
  client_id: string | null
  created_at: number
  expires_at: number
}

interface Page {
  events: WireEvent[]
  next: number
  reload: boolean
  more: boolean
}

describe('revocation feed: GET /revocations as JSON pages and as Server-Sent Events', () => {
  let server: TestServer
  let api: CreatedClient
  let app: CreatedClient

  before(async () => {
    server = await startServer({
      env: { LATCHKEY_FEED_HEARTBEAT_MS: '200', LATCHKEY_FEED_MAX_SUBSCRIBERS: '4' },
    })
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    app = createClient(server.db, 'app', '--grant', 'client_credentials', '--scope', 'read')
  })
  after(() => server.dispose())

  const auth = (c: CreatedClient): Record<string, string> => ({
    authorization: basic(c.client_id, c.client_secret),
  })
  const feed = (query: string, c: CreatedClient = api) =>
    request(`${server.url}/revocations${query}`, { headers: auth(c) })

  /** Issues a JWT to `app` and revokes it (RFC 7009): one `jti` event. Returns its jti. */
  async function revokeOne(): Promise<string> {
    const issued = await server.post('/token', { grant_type: 'client_credentials' }, [
      app.client_id,
      app.client_secret,
    ])
    const token = issued.json.access_token as string
    const res = await server.post('/revoke', { token }, [app.client_id, app.client_secret])
    assert.equal(res.status, 200)
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
      jti: string
    }
    return payload.jti
  }

  it('announces the feed in the metadata as latchkey_revocation_endpoint', async () => {
    const res = await server.get('/.well-known/oauth-authorization-server')
    assert.equal(res.json.latchkey_revocation_endpoint, `${server.url}/revocations`)
  })

  it('refuses a reader without credentials with 401 invalid_client and a Basic challenge', async () => {
    for (const query of ['?after=0', '']) {
      const res = await request(`${server.url}/revocations${query}`)
      assert.equal(res.status, 401)
      assert.equal(res.json.error, 'invalid_client')
      assert.match(String(res.headers['www-authenticate']), /^Basic /)
    }
  })

  it('refuses a wrong secret with 401 and a client that is not a resource server with 403', async () => {
    const wrong = await request(`${server.url}/revocations?after=0`, {
      headers: { authorization: basic('api', 'not-the-secret-at-all') },
    })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.json.error, 'invalid_client')
    for (const query of ['?after=0', '']) {
      const res = await feed(query, app)
      assert.equal(res.status, 403)
      assert.equal(res.json.error, 'unauthorized_client')
    }
  })

  it('refuses a malformed position or page size with 400 invalid_request', async () => {
    for (const query of [
      '?after=-1',
      '?after=abc',
      '?after=1e3',
      '?after=0&limit=0',
      '?after=0&limit=1001',
      '?after=1&after=2',
    ]) {
      const res = await feed(query)
      assert.equal(res.status, 400, query)
      assert.equal(res.json.error, 'invalid_request', query)
    }
    const res = await request(`${server.url}/revocations`, {
      headers: { ...auth(api), 'last-event-id': 'x' },
    })
    assert.equal(res.status, 400)
  })

  it('pages events after a sequence number in their wire shape, with next and more', async () => {
    const before = (await feed('?after=0')).json as unknown as Page
    const jtis = [await revokeOne(), await revokeOne(), await revokeOne()]
    const res = await feed(`?after=${before.next}`)
    assert.equal(res.status, 200)
    assert.equal(res.headers['cache-control'], 'no-store')
    const page = res.json as unknown as Page
    assert.equal(page.reload, false)
    assert.equal(page.more, false)
    assert.deepEqual(
      page.events.map((e) => e.value),
      jtis,
    )
    const first = page.events[0]!
    assert.deepEqual(Object.keys(first).sort(), [
      'client_id',
      'created_at',
      'expires_at',
      'kind',
      'seq',
      'value',
    ])
    assert.equal(first.kind, 'jti')
    assert.equal(first.client_id, 'app')
    assert.ok(first.expires_at > first.created_at)
    assert.equal(page.next, page.events[2]!.seq)

    const small = (await feed(`?after=${before.next}&limit=2`)).json as unknown as Page
    assert.equal(small.events.length, 2)
    assert.equal(small.more, true)
    assert.equal(small.next, small.events[1]!.seq)
    const rest = (await feed(`?after=${small.next}&limit=2`)).json as unknown as Page
    assert.deepEqual(
      rest.events.map((e) => e.value),
      [jtis[2]],
    )
    assert.equal(rest.more, false)
    const none = (await feed(`?after=${rest.next}`)).json as unknown as Page
    assert.deepEqual(none, { events: [], next: rest.next, reload: false, more: false })
  })

  it('streams events with their seq as id, after a catch-up ended by ready', async () => {
    const existing = (await feed('?after=0')).json as unknown as Page
    const stream = await openStream(`${server.url}/revocations`, auth(api))
    try {
      assert.equal(stream.status, 200)
      assert.match(String(stream.headers['content-type']), /^text\/event-stream/)
      assert.equal(stream.headers['cache-control'], 'no-store')
      await stream.waitFor((m) => m.event === 'ready')
      assert.match(stream.raw(), /^retry: \d+\n\n/)
      // The catch-up from the start: every event so far, each with its id.
      const caught = stream.messages.filter((m) => m.event === 'message')
      assert.deepEqual(
        caught.map((m) => Number(m.id)),
        existing.events.map((e) => e.seq),
      )
      const jti = await revokeOne()
      const live = await stream.waitFor(
        (m) => m.event === 'message' && (JSON.parse(m.data) as WireEvent).value === jti,
      )
      const event = JSON.parse(live.data) as WireEvent
      assert.equal(live.id, String(event.seq))
      assert.equal(event.kind, 'jti')
    } finally {
      stream.close()
    }
  })

  it('resumes after Last-Event-ID with exactly the events missed', async () => {
    const first = await openStream(`${server.url}/revocations`, auth(api))
    await first.waitFor((m) => m.event === 'ready')
    const seen = await revokeOne()
    const last = await first.waitFor(
      (m) => m.event === 'message' && (JSON.parse(m.data) as WireEvent).value === seen,
    )
    first.close()
    const missed = [await revokeOne(), await revokeOne()]
    const resumed = await openStream(`${server.url}/revocations`, {
      ...auth(api),
      'last-event-id': last.id!,
    })
    try {
      const ready = await resumed.waitFor((m) => m.event === 'ready')
      const events = resumed.messages
        .filter((m) => m.event === 'message')
        .map((m) => JSON.parse(m.data) as WireEvent)
      assert.deepEqual(
        events.map((e) => e.value),
        missed,
      )
      assert.equal((JSON.parse(ready.data) as { seq: number }).seq, events[1]!.seq)
      assert.equal(ready.id, String(events[1]!.seq))
    } finally {
      resumed.close()
    }
  })

  it('sends heartbeat comments on an idle stream', async () => {
    const stream = await openStream(`${server.url}/revocations`, auth(api))
    try {
      await stream.waitFor((m) => m.event === 'ready')
      const start = stream.raw().length
      await sleep(700)
      const beats =
        stream
          .raw()
          .slice(start)
          .match(/^: heartbeat$/gm) ?? []
      assert.ok(beats.length >= 2, `${beats.length} heartbeats in 700 ms`)
    } finally {
      stream.close()
    }
  })

  it('refuses a stream beyond the limit with 503, and frees the place when a reader leaves', async () => {
    const open = await Promise.all(
      Array.from({ length: 4 }, () => openStream(`${server.url}/revocations`, auth(api))),
    )
    try {
      for (const s of open) await s.waitFor((m) => m.event === 'ready')
      const refused = await feed('')
      assert.equal(refused.status, 503)
      assert.equal(refused.json.error, 'temporarily_unavailable')
      assert.ok(refused.headers['retry-after'])
      open.pop()!.close()
      await sleep(100)
      const again = await openStream(`${server.url}/revocations`, auth(api))
      assert.equal(again.status, 200)
      open.push(again)
    } finally {
      for (const s of open) s.close()
    }
  })

  it('keeps serving after many readers disconnect abruptly mid-stream', async () => {
    for (let round = 0; round < 5; round++) {
      const streams = await Promise.all(
        Array.from({ length: 3 }, () => openStream(`${server.url}/revocations`, auth(api))),
      )
      await revokeOne()
      for (const s of streams) s.close()
    }
    await sleep(100)
    const stream = await openStream(`${server.url}/revocations`, auth(api))
    try {
      await stream.waitFor((m) => m.event === 'ready')
      const jti = await revokeOne()
      await stream.waitFor(
        (m) => m.event === 'message' && (JSON.parse(m.data) as WireEvent).value === jti,
      )
    } finally {
      stream.close()
    }
    assert.equal((await server.get('/healthz')).status, 200)
  })

  it('tells a reader whose position was pruned to reload, and sends every live event', async () => {
    // Another process (here, this one) prunes the shared database, as the server does every minute.
    const store = createSqliteStore(join(server.dir, 'latchkey.db'))
    const now = Math.floor(Date.now() / 1000)
    let live: number
    let expired: number
    try {
      live = await store.appendRevocation({
        kind: 'sid',
        value: 'kept-live',
        clientId: 'app',
        createdAt: now,
        expiresAt: now + 600,
      })
      expired = await store.appendRevocation({
        kind: 'sid',
        value: 'expired',
        clientId: 'app',
        createdAt: now - 900,
        expiresAt: now - 600,
      })
      assert.ok((await store.pruneRevocations(now)) >= 1)
      assert.equal(await store.prunedThrough(), expired)
    } finally {
      await store.close()
    }
    const everything = (await feed(`?after=${expired}`)).json as unknown as Page
    assert.equal(everything.reload, false)

    const reload = (await feed(`?after=${live}`)).json as unknown as Page
    assert.equal(reload.reload, true)
    assert.equal(reload.more, false)
    assert.ok(reload.next >= expired)
    const values = reload.events.map((e) => e.value)
    assert.ok(values.includes('kept-live'))
    assert.ok(!values.includes('expired'))
    // Following `next` does not reload again.
    assert.equal(((await feed(`?after=${reload.next}`)).json as unknown as Page).reload, false)

    const stream = await openStream(`${server.url}/revocations`, {
      ...auth(api),
      'last-event-id': String(live),
    })
    try {
      const ready = await stream.waitFor((m) => m.event === 'ready')
      const kinds = stream.messages.map((m) => m.event)
      assert.equal(kinds[0], 'reload')
      const resent = stream.messages
        .filter((m) => m.event === 'message')
        .map((m) => JSON.parse(m.data) as WireEvent)
      assert.ok(resent.some((e) => e.seq === live && e.value === 'kept-live'))
      assert.ok(Number(ready.id) >= expired, 'ready moves the reader past the pruned mark')
    } finally {
      stream.close()
    }
  })

  it('ends open streams when the server shuts down, and shuts down promptly', async () => {
    const own = await startServer()
    try {
      const reader = createClient(
        own.db,
        'api',
        '--grant',
        'client_credentials',
        '--resource-server',
      )
      const stream = await openStream(`${own.url}/revocations`, auth(reader))
      await stream.waitFor((m) => m.event === 'ready')
      const started = Date.now()
      assert.equal(await own.stop(), 0)
      await stream.ended
      assert.ok(Date.now() - started < 5000)
    } finally {
      await own.dispose()
    }
  })
})
