/**
 * The audit log end to end: the real server and CLI. Admin actions through the CLI are recorded with
 * the `cli:<os user>` actor; security events the server sees (a wrong client secret, refresh-token
 * reuse, a replayed code, a login lock-out) are recorded with the request's address and written as
 * JSON log lines; `latchkey audit list` filters; the retention prunes old events.
 */
import assert from 'node:assert/strict'
import { userInfo } from 'node:os'
import { after, before, describe, it } from 'node:test'
import { pruneExpired } from '../../src/server/serve.js'
import { openStore } from '../../src/store/index.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'
import { authorize, authorizeQuery, Browser, formFields, pkce } from '../helpers/browser.js'
import {
  cli,
  createClient,
  createUser,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'alice password 1234' }
const ACTOR = `cli:${userInfo().username}`

interface Event {
  id: number
  at: string
  kind: string
  actor: string
  subject: string | null
  address: string | null
  details: Record<string, unknown>
}

describe('audit log', () => {
  let server: TestServer
  let web: CreatedClient

  before(async () => {
    server = await startServer({
      env: { LATCHKEY_LOG_REQUESTS: 'false', LATCHKEY_REFRESH_GRACE_SECONDS: '0' },
    })
    web = createClient(
      server.db,
      'web',
      ...['--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', REDIRECT],
    )
    createUser(server.db, USER)
  })
  after(() => server.dispose())

  function list(...args: string[]): Event[] {
    const r = cli(['audit', 'list', '--db', server.db, ...args])
    assert.equal(r.status, 0, r.stderr)
    return r.json as Event[]
  }

  /** The newest event of `kind` matching `match`, polled for (security events are written async). */
  async function awaitEvent(
    kind: string,
    match: (e: Event) => boolean = () => true,
  ): Promise<Event> {
    const deadline = Date.now() + 10_000
    for (;;) {
      const found = list('--kind', kind).find(match)
      if (found) return found
      if (Date.now() > deadline) assert.fail(`no ${kind} event: ${JSON.stringify(list())}`)
      await sleep(100)
    }
  }

  const creds = (): [string, string] => [web.client_id, web.client_secret]

  async function code(): Promise<{ code: string; verifier: string }> {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: 'web', redirectUri: REDIRECT, challenge: p.challenge },
      USER,
    )
    const c = landed.searchParams.get('code')
    assert.ok(c, landed.href)
    return { code: c, verifier: p.verifier }
  }

  const exchange = (c: { code: string; verifier: string }) =>
    server.post(
      '/token',
      {
        grant_type: 'authorization_code',
        code: c.code,
        code_verifier: c.verifier,
        redirect_uri: REDIRECT,
      },
      creds(),
    )

  it('records clients created and deleted through the CLI, with the CLI actor', () => {
    createClient(server.db, 'temp', '--grant', 'client_credentials')
    const deleted = cli(['client', 'delete', '--db', server.db, '--id', 'temp'])
    assert.equal(deleted.status, 0, deleted.stderr)
    const events = list('--actor', ACTOR).filter((e) => e.subject === 'temp')
    assert.deepEqual(
      events.map((e) => e.kind),
      ['client.deleted', 'client.created'],
    )
    for (const e of events) {
      assert.equal(e.actor, ACTOR)
      assert.equal(e.address, null)
      assert.match(e.at, /^\d{4}-\d{2}-\d{2}T/)
    }
    assert.ok(events[0]!.id > events[1]!.id, 'newest first')
    // No secret in the details of a created client.
    assert.doesNotMatch(JSON.stringify(events[1]), /secret_hash|client_secret/)
  })

  it('records a wrong client secret at /token for the client presented, with the address', async () => {
    const res = await server.post(
      '/token',
      { grant_type: 'client_credentials' },
      ['web', 'a wrong secret of many characters'],
      '127.0.0.1',
    )
    assert.equal(res.status, 401)
    const e = await awaitEvent('client_auth.failed', (x) => x.subject === 'web')
    assert.equal(e.actor, '-')
    assert.equal(e.address, '127.0.0.1')
    assert.doesNotMatch(JSON.stringify(e), /a wrong secret/)
  })

  it('records a replayed code', async () => {
    const c = await code()
    assert.equal((await exchange(c)).status, 200)
    const replay = await exchange(c)
    assert.equal(replay.status, 400)
    const e = await awaitEvent('code.replayed')
    assert.equal(e.subject, 'web')
    assert.equal(e.address, '127.0.0.1')
    assert.equal(typeof e.details.session_id, 'string')
  })

  it('records a reused refresh token', async () => {
    const issued = await exchange(await code())
    assert.equal(issued.status, 200, issued.text)
    const refresh = String(issued.json.refresh_token)
    const rotate = () =>
      server.post('/token', { grant_type: 'refresh_token', refresh_token: refresh }, creds())
    assert.equal((await rotate()).status, 200)
    assert.equal((await rotate()).status, 400)
    const e = await awaitEvent('refresh_token.reused')
    assert.equal(e.subject, 'web')
    assert.equal(e.address, '127.0.0.1')
    assert.doesNotMatch(JSON.stringify(e), new RegExp(refresh))
  })

  it('records a login lock-out when failed logins reach the 429', async () => {
    const from = '127.0.0.3'
    let status = 0
    for (let i = 0; i < 20 && status !== 429; i++) {
      const browser = new Browser(server.url, from)
      const page = await browser.get(
        authorizeQuery({ clientId: 'web', redirectUri: REDIRECT, challenge: pkce().challenge }),
      )
      const res = await browser.postForm('/authorize', {
        ...formFields(page.text),
        username: USER.username,
        password: `wrong guess ${i}`,
      })
      status = res.status
    }
    assert.equal(status, 429)
    const e = await awaitEvent('login.locked_out', (x) => x.address === from)
    assert.equal(e.details.username, USER.username)
    const failed = await awaitEvent('login.failed', (x) => x.address === from)
    assert.doesNotMatch(JSON.stringify(failed), /wrong guess/)
  })

  it('records keys rotate', () => {
    const r = cli(['keys', 'rotate', '--db', server.db])
    assert.equal(r.status, 0, r.stderr)
    const kid = (r.json as { kid: string }).kid
    const [e] = list('--kind', 'key.rotated', '--limit', '1')
    assert.equal(e?.subject, kid)
    assert.equal(e?.actor, ACTOR)
  })

  it("writes the server's security events as JSON log lines", async () => {
    await awaitEvent('client_auth.failed')
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.audit === true)
    const kinds = new Set(lines.map((l) => l.kind))
    for (const kind of ['client_auth.failed', 'code.replayed', 'refresh_token.reused']) {
      assert.ok(kinds.has(kind), `${kind} in ${[...kinds].join(', ')}`)
    }
    const line = lines.find((l) => l.kind === 'client_auth.failed')!
    assert.equal(line.actor, '-')
    assert.equal(line.subject, 'web')
    assert.equal(line.address, '127.0.0.1')
  })

  it('filters by kind, actor and time, and limits', () => {
    const all = list('--limit', '1000')
    assert.ok(all.length >= 5)
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.id > all[i]!.id, 'newest first')
    assert.ok(list('--kind', 'client.created').every((e) => e.kind === 'client.created'))
    assert.ok(list('--actor', '-').every((e) => e.actor === '-'))
    assert.equal(list('--limit', '2').length, 2)
    assert.deepEqual(list('--since', new Date(Date.now() + 3_600_000).toISOString()), [])
    const past = Math.floor(Date.now() / 1000) - 3600
    assert.equal(list('--since', String(past), '--limit', '1000').length, all.length)
    assert.deepEqual(list('--until', String(past)), [])
  })

  it('refuses bad options with one line on stderr', () => {
    for (const args of [
      ['--since', 'yesterday'],
      ['--limit', '0'],
      ['--limit', 'ten'],
      ['--kind', 'DROP TABLE'],
      ['--since', '2000', '--until', '1000'],
    ]) {
      const r = cli(['audit', 'list', '--db', server.db, ...args])
      assert.notEqual(r.status, 0, args.join(' '))
      assert.equal(r.stdout, '')
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    }
  })

  it('prunes events older than the retention', async () => {
    const store = await openStore(server.db)
    try {
      const now = Math.floor(Date.now() / 1000)
      await store.appendAudit({
        at: now - 91 * 86_400,
        kind: 'client.created',
        actor: 'cli:old',
        subject: 'ancient',
        address: null,
        details: {},
      })
      assert.equal(list('--actor', 'cli:old').length, 1)
      const pruned = await pruneExpired(store, now, 90)
      assert.equal(pruned.audit, 1)
      assert.deepEqual(list('--actor', 'cli:old'), [])
      assert.ok(list().length > 0, 'recent events stay')
    } finally {
      await store.close()
    }
  })
})

describe('audit log on PostgreSQL', () => {
  let database: TestDatabase
  let server: TestServer

  before(async () => {
    database = await createTestDatabase()
    server = await startServer({ db: database.url, env: { LATCHKEY_LOG_REQUESTS: 'false' } })
  })
  after(async () => {
    await server.dispose()
    await database.drop()
  })

  it('records a CLI action and a failed client authentication, and lists them', async () => {
    createClient(database.url, 'svc', '--grant', 'client_credentials')
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      'svc',
      'a wrong secret of many characters',
    ])
    assert.equal(res.status, 401)
    const deadline = Date.now() + 10_000
    for (;;) {
      const r = cli(['audit', 'list', '--db', database.url])
      assert.equal(r.status, 0, r.stderr)
      const events = r.json as Event[]
      if (events.some((e) => e.kind === 'client_auth.failed')) {
        assert.deepEqual(
          events.map((e) => [e.kind, e.subject]),
          [
            ['client_auth.failed', 'svc'],
            ['client.created', 'svc'],
            // The server's first start registered the console's client.
            ['client.created', 'latchkey-console'],
          ],
        )
        assert.equal(events[1]!.actor, ACTOR)
        assert.equal(events[0]!.address, '127.0.0.1')
        break
      }
      if (Date.now() > deadline) assert.fail(JSON.stringify(events))
      await sleep(100)
    }
  })
})
