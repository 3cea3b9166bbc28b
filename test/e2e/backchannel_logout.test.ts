/**
 * Back-Channel Logout 1.0 against real servers: a receiver on loopback, registered as clients'
 * back-channel logout URI, gets exactly one logout token per ended session within 5 s, after
 * `/logout` and after `latchkey session revoke`, verified with jose against the server's JWKS; a
 * receiver that fails twice gets it on the third try; two nodes on one PostgreSQL database deliver
 * it once.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it, type TestContext } from 'node:test'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { serverSignedIdToken, signIn, type SignedIn } from '../helpers/logout.js'
import {
  cli,
  createClient,
  createUser,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
const now = (): number => Math.floor(Date.now() / 1000)

interface Received {
  at: number
  path: string
  contentType: string | undefined
  token: string | undefined
  /** The status the receiver answered. */
  status: number
}

/** A relying party's back-channel logout endpoint on loopback, recording every POST. */
class Receiver {
  readonly received: Received[] = []
  /** Answers 500 to this many POSTs for each `sid` before answering 200. */
  failFirst = 0
  private readonly failures = new Map<string, number>()
  private server: Server | undefined
  url = ''

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('logout_token')
        const sid = token === null ? '' : String(decodeJwt(token).sid)
        const failed = this.failures.get(sid) ?? 0
        const status = failed < this.failFirst ? 500 : 200
        if (status === 500) this.failures.set(sid, failed + 1)
        this.received.push({
          at: Date.now(),
          path: req.url ?? '',
          contentType: req.headers['content-type'],
          token: token ?? undefined,
          status,
        })
        // §2.8: 200 with no-store on success.
        res.writeHead(status, { 'cache-control': 'no-store' }).end()
      })
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    const address = this.server.address()
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve())
  }

  /** What arrived for the session `sid`. */
  forSession(sid: string): Received[] {
    return this.received.filter((r) => r.token !== undefined && decodeJwt(r.token).sid === sid)
  }

  /** Waits until `count` POSTs answered 200 arrived for `sid`; fails past `ms`. */
  async waitFor(sid: string, count: number, ms: number): Promise<Received[]> {
    const deadline = Date.now() + ms
    for (;;) {
      const ok = this.forSession(sid).filter((r) => r.status === 200)
      if (ok.length >= count) return ok
      assert.ok(Date.now() < deadline, `no logout token for ${sid} within ${ms} ms`)
      await sleep(20)
    }
  }
}

/** Verifies a logout token as a relying party would (§2.6), against the server's JWKS. */
async function verifyLogoutToken(
  server: TestServer,
  issuer: string,
  token: string,
  s: SignedIn,
  audience: string,
): Promise<void> {
  const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`))
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    typ: 'logout+jwt',
  })
  assert.equal(protectedHeader.typ, 'logout+jwt')
  assert.deepEqual(payload.events, { [LOGOUT_EVENT]: {} })
  assert.equal(payload.sid, s.sid)
  assert.equal(payload.sub, s.sub)
  assert.equal(payload.aud, audience)
  assert.equal('nonce' in payload, false, 'a logout token has no nonce')
  assert.equal(typeof payload.jti, 'string')
  assert.equal(typeof payload.iat, 'number')
  assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 120, 'short-lived')
}

const webGrants = ['--grant', 'authorization_code', '--grant', 'refresh_token', '--scope', 'openid']

describe('back-channel logout (OpenID Connect Back-Channel Logout 1.0)', () => {
  let server: TestServer
  let receiver: Receiver
  let web: CreatedClient
  let web2: CreatedClient

  before(async () => {
    receiver = new Receiver()
    await receiver.start()
    // No grace for a reused refresh token: its reuse ends the session at once.
    server = await startServer({ env: { LATCHKEY_REFRESH_GRACE_SECONDS: '0' } })
    web = createClient(
      server.db,
      'web',
      ...webGrants,
      ...['--redirect-uri', REDIRECT, '--backchannel-logout-uri', `${receiver.url}/web/bc`],
    )
    web2 = createClient(
      server.db,
      'web2',
      ...webGrants,
      ...['--redirect-uri', REDIRECT, '--backchannel-logout-uri', `${receiver.url}/web2/bc`],
    )
    createUser(server.db, USER)
  })
  after(async () => {
    await server?.dispose()
    await receiver?.close()
  })

  const logout = async (s: SignedIn): Promise<void> => {
    const hint = await serverSignedIdToken(server.db, {
      iss: server.url,
      sub: s.sub,
      aud: 'web',
      sid: s.sid,
      iat: now(),
      exp: now() + 300,
    })
    const res = await s.browser.get(
      `/logout?${new URLSearchParams({ id_token_hint: hint }).toString()}`,
    )
    assert.equal(res.status, 200, res.text)
  }

  it('after /logout, each client of the login receives exactly one logout token within 5 s', async (t: TestContext) => {
    receiver.failFirst = 0
    const s = await signIn(server, web, REDIRECT, USER)
    // The same browser at a second client: no password asked, a second session of the same login.
    const s2 = await signIn(server, web2, REDIRECT, USER, s.browser)
    assert.notEqual(s.sid, s2.sid)
    const started = Date.now()
    await logout(s)
    const [first] = await receiver.waitFor(s.sid, 1, 5000)
    const [second] = await receiver.waitFor(s2.sid, 1, 5000)
    t.diagnostic(`delivery delay (logout → receipt): ${first!.at - started} ms`)
    assert.equal(first!.path, '/web/bc')
    assert.equal(second!.path, '/web2/bc')
    assert.equal(first!.contentType, 'application/x-www-form-urlencoded')
    await verifyLogoutToken(server, server.url, first!.token!, s, 'web')
    await verifyLogoutToken(server, server.url, second!.token!, s2, 'web2')
    // Exactly one each: nothing more arrives.
    await sleep(1500)
    assert.equal(receiver.forSession(s.sid).length, 1)
    assert.equal(receiver.forSession(s2.sid).length, 1)
    const metrics = (await server.get('/metrics')).text
    assert.match(
      metrics,
      /^latchkey_backchannel_logout_deliveries_total\{outcome="delivered"\} [1-9]/m,
    )
    assert.match(metrics, /^latchkey_backchannel_logout_delay_seconds_count [1-9]/m)
  })

  it('after latchkey session revoke, the client receives exactly one logout token within 5 s', async (t: TestContext) => {
    receiver.failFirst = 0
    const s = await signIn(server, web, REDIRECT, USER)
    const started = Date.now()
    const revoked = cli(['session', 'revoke', '--db', server.db, '--id', s.sid])
    assert.equal(revoked.status, 0, revoked.stderr)
    const [got] = await receiver.waitFor(s.sid, 1, 5000)
    t.diagnostic(`delivery delay (session revoke → receipt): ${got!.at - started} ms`)
    await verifyLogoutToken(server, server.url, got!.token!, s, 'web')
    await sleep(1500)
    assert.equal(receiver.forSession(s.sid).length, 1)
  })

  it('tells the client when refresh-token reuse or deleting the user ends a session', async () => {
    receiver.failFirst = 0
    const s = await signIn(server, web, REDIRECT, USER)
    const refresh = (token: string) =>
      server.post('/token', { grant_type: 'refresh_token', refresh_token: token }, [
        web.client_id,
        web.client_secret,
      ])
    assert.equal((await refresh(s.refreshToken)).status, 200)
    await sleep(50)
    assert.equal((await refresh(s.refreshToken)).json.error, 'invalid_grant')
    const [reused] = await receiver.waitFor(s.sid, 1, 5000)
    await verifyLogoutToken(server, server.url, reused!.token!, s, 'web')

    createUser(server.db, { username: 'bob', password: 'bob password is long' })
    const bob = await signIn(server, web, REDIRECT, {
      username: 'bob',
      password: 'bob password is long',
    })
    const deleted = cli(['user', 'delete', '--db', server.db, '--username', 'bob'])
    assert.equal(deleted.status, 0, deleted.stderr)
    const [gone] = await receiver.waitFor(bob.sid, 1, 5000)
    await verifyLogoutToken(server, server.url, gone!.token!, bob, 'web')
  })

  it('delivers on the third try to a receiver that answers 500 twice', async () => {
    receiver.failFirst = 2
    try {
      const s = await signIn(server, web, REDIRECT, USER)
      await logout(s)
      const [got] = await receiver.waitFor(s.sid, 1, 15_000)
      const all = receiver.forSession(s.sid)
      assert.deepEqual(
        all.map((r) => r.status),
        [500, 500, 200],
      )
      await verifyLogoutToken(server, server.url, got!.token!, s, 'web')
    } finally {
      receiver.failFirst = 0
    }
  })
})

describe('back-channel logout from two nodes on one PostgreSQL database', () => {
  const ISSUER = 'http://latchkey.backchannel.test'
  let database: TestDatabase
  let a: TestServer
  let b: TestServer
  let receiver: Receiver
  let web: CreatedClient

  before(async () => {
    receiver = new Receiver()
    await receiver.start()
    database = await createTestDatabase()
    const options = { db: database.url, args: ['--issuer', ISSUER] }
    ;[a, b] = await Promise.all([startServer(options), startServer(options)])
    web = createClient(
      database.url,
      'web',
      ...webGrants,
      ...['--redirect-uri', REDIRECT, '--backchannel-logout-uri', `${receiver.url}/bc`],
    )
    createUser(database.url, USER)
  })
  after(async () => {
    await Promise.all([a?.dispose(), b?.dispose()])
    await database?.drop()
    await receiver?.close()
  })

  it('delivers each logout token once across the cluster, after /logout and after session revoke', async (t: TestContext) => {
    const s = await signIn(a, web, REDIRECT, USER)
    const hint = await serverSignedIdToken(database.url, {
      iss: ISSUER,
      sub: s.sub,
      aud: 'web',
      sid: s.sid,
      iat: now(),
      exp: now() + 300,
    })
    const started = Date.now()
    const res = await s.browser.get(
      `/logout?${new URLSearchParams({ id_token_hint: hint }).toString()}`,
    )
    assert.equal(res.status, 200, res.text)
    const [got] = await receiver.waitFor(s.sid, 1, 5000)
    t.diagnostic(`delivery delay on PostgreSQL (logout → receipt): ${got!.at - started} ms`)
    await verifyLogoutToken(b, ISSUER, got!.token!, s, 'web')

    const other = await signIn(b, web, REDIRECT, USER)
    const revoked = cli(['session', 'revoke', '--db', database.url, '--id', other.sid])
    assert.equal(revoked.status, 0, revoked.stderr)
    await receiver.waitFor(other.sid, 1, 5000)

    // Both nodes read both events; neither delivers a second time.
    await sleep(2000)
    assert.equal(receiver.forSession(s.sid).length, 1)
    assert.equal(receiver.forSession(other.sid).length, 1)
  })
})
