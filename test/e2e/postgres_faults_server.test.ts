/**
 * `latchkey serve` when its PostgreSQL becomes unreachable: a TCP relay in this process stands between
 * the server and the database and is cut, then restored. While cut, token, refresh and introspection
 * answer 503 `temporarily_unavailable` and never report a token active; `/healthz` says 503. Once
 * restored, the same process serves again without a restart.
 */

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { authorize, Browser, pkce } from '../helpers/browser.js'
import {
  createClient,
  createUser,
  createWebClient,
  sleep,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'
import { TcpRelay } from '../helpers/tcp_relay.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }

describe('latchkey serve when PostgreSQL is unreachable', () => {
  let database: TestDatabase
  let relay: TcpRelay
  let server: TestServer
  let svc: CreatedClient
  let opaque: CreatedClient
  let web: CreatedClient
  let api: CreatedClient

  const creds = (c: CreatedClient): [string, string] => [c.client_id, c.client_secret]

  before(async () => {
    database = await createTestDatabase()
    relay = TcpRelay.to(database.url)
    await relay.start()
    server = await startServer({ db: relay.url(database.url) })
    svc = createClient(database.url, 'svc', '--grant', 'client_credentials')
    opaque = createClient(
      database.url,
      'svc-o',
      '--grant',
      'client_credentials',
      '--access-token-format',
      'opaque',
    )
    api = createClient(database.url, 'api', '--grant', 'client_credentials', '--resource-server')
    web = createWebClient(database.url, REDIRECT)
    createUser(database.url, USER)
  })
  after(async () => {
    await server?.dispose()
    await relay?.cut()
    await database?.drop()
  })

  const token = (client: CreatedClient): Promise<HttpResponse> =>
    server.post('/token', { grant_type: 'client_credentials' }, creds(client))
  /** Introspects as the resource server, or a session's refresh token as its own client. */
  const introspect = (value: string, client: CreatedClient = api): Promise<HttpResponse> =>
    server.post('/introspect', { token: value }, creds(client))
  const refresh = (value: string): Promise<HttpResponse> =>
    server.post('/token', { grant_type: 'refresh_token', refresh_token: value }, creds(web))

  async function login(): Promise<{ access_token: string; refresh_token: string }> {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: web.client_id, redirectUri: REDIRECT, challenge: p.challenge, state: 's' },
      USER,
    )
    const code = landed.searchParams.get('code')
    assert.ok(code, landed.href)
    const res = await server.post(
      '/token',
      { grant_type: 'authorization_code', code, code_verifier: p.verifier, redirect_uri: REDIRECT },
      creds(web),
    )
    assert.equal(res.status, 200, res.text)
    return res.json as { access_token: string; refresh_token: string }
  }

  function assertUnavailable(res: HttpResponse, what: string): void {
    assert.equal(res.status, 503, `${what}: ${res.status} ${res.text}`)
    assert.equal(res.json.error, 'temporarily_unavailable', what)
    assert.notEqual(res.json.active, true, `${what} never reports active`)
  }

  it('answers 503 temporarily_unavailable while cut, fails closed, and recovers by itself', async () => {
    const jwt = (await token(svc)).json.access_token as string
    const opaqueToken = (await token(opaque)).json.access_token as string
    const session = await login()
    for (const value of [jwt, opaqueToken, session.access_token]) {
      assert.equal((await introspect(value)).json.active, true)
    }
    assert.equal((await introspect(session.refresh_token, web)).json.active, true)

    await relay.cut()
    // Client records are cached for one second: past it every request needs the database.
    await sleep(1100)
    assertUnavailable(await token(opaque), 'token (opaque, a write)')
    assertUnavailable(await token(svc), 'token (JWT, client lookup)')
    assertUnavailable(await refresh(session.refresh_token), 'refresh')
    for (const value of [jwt, opaqueToken, session.access_token]) {
      assertUnavailable(await introspect(value), 'introspection')
    }
    assertUnavailable(await introspect(session.refresh_token, web), 'refresh token introspection')
    const health = await server.get('/healthz')
    assert.equal(health.status, 503)
    assert.equal((health.json.checks as { store: string }).store, 'unavailable')

    await relay.restore()
    const deadline = Date.now() + 10_000
    while ((await server.get('/healthz')).status !== 200) {
      assert.ok(Date.now() < deadline, 'healthy again within 10 s of the restore')
      await sleep(100)
    }
    assert.equal((await token(opaque)).status, 200)
    assert.equal((await token(svc)).status, 200)
    const next = await refresh(session.refresh_token)
    assert.equal(next.status, 200, next.text)
    for (const value of [jwt, opaqueToken, session.access_token]) {
      assert.equal((await introspect(value)).json.active, true)
    }
    assert.equal(server.process.exitCode, null, 'the same process, never restarted')
  })

  it('fails closed without waiting for the client cache to expire', async () => {
    const jwt = (await token(svc)).json.access_token as string
    assert.equal((await introspect(jwt)).json.active, true)
    // Caches svc's record for a second.
    assert.equal((await token(svc)).status, 200)
    const cachedAt = Date.now()
    await relay.cut()
    const cutAt = Date.now()
    try {
      // A write needs the database.
      assertUnavailable(await token(opaque), 'token (opaque, a write)')
      // A JWT needs no write, and the client is cached for 1 s: it is refused once the node's
      // revocation follower has failed to read the database (one 50 ms poll), well before that.
      let issued = await token(svc)
      while (issued.status === 200) {
        assert.ok(
          Date.now() - cachedAt < 750,
          'JWT issuance refused before the client cache expired',
        )
        await sleep(20)
        issued = await token(svc)
      }
      assertUnavailable(issued, 'token (JWT, client cached)')
      console.log(`JWT issuance answered 503 ${Date.now() - cutAt} ms after the cut`)
      // The JWT's revocation check is answered from this node's copy of the feed while its follower
      // has read the database within 500 ms (nothing can be revoked without the database), then 503.
      let res = await introspect(jwt)
      while (res.status === 200) {
        assert.equal(res.json.active, true)
        assert.ok(Date.now() - cutAt < 2000, 'introspection of a JWT fails closed within 2 s')
        await sleep(50)
        res = await introspect(jwt)
      }
      assertUnavailable(res, 'introspection of a JWT')
      console.log(`JWT introspection answered 503 ${Date.now() - cutAt} ms after the cut`)
    } finally {
      await relay.restore()
    }
    const deadline = Date.now() + 10_000
    while ((await server.get('/healthz')).status !== 200) {
      assert.ok(Date.now() < deadline, 'healthy again within 10 s of the restore')
      await sleep(100)
    }
  })
})
