import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeJwt } from 'jose'
import { authorize, Browser, pkce, type Pkce } from '../helpers/browser.js'
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
const USER = { username: 'alice', password: 'correct horse battery' }

interface Tokens {
  access_token: string
  refresh_token: string
  token_type: string
  expires_in: number
  scope?: string
}

describe('user sessions: authorization code with PKCE, rotating refresh tokens, revocation', () => {
  let server: TestServer
  let app: CreatedClient
  let opaqueApp: CreatedClient
  let other: CreatedClient
  let api: CreatedClient
  let publicApp: { client_id: string }
  let userId: string

  before(async () => {
    server = await startServer()
    const grants = [
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--redirect-uri',
      REDIRECT,
    ]
    app = createClient(server.db, 'web', ...grants, '--scope', 'openid profile orders')
    opaqueApp = createClient(server.db, 'web-opaque', ...grants, '--access-token-format', 'opaque')
    other = createClient(server.db, 'other', ...grants)
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    const pub = cli(['client', 'create', '--db', server.db, '--id', 'spa', '--public', ...grants])
    assert.equal(pub.status, 0, pub.stderr)
    publicApp = pub.json as { client_id: string }
    const user = createUser(server.db, USER)
    userId = user.id
  })
  after(() => server.dispose())

  const creds = (c: CreatedClient): [string, string] => [c.client_id, c.client_secret]
  /** Introspects `token` as `client` (the resource server by default), with `extra` parameters. */
  const introspect = async (
    token: string,
    client: CreatedClient = api,
    extra: Record<string, string> = {},
  ): Promise<Record<string, unknown>> => {
    const res = await server.post('/introspect', { token, ...extra }, creds(client))
    assert.equal(res.status, 200, res.text)
    return res.json
  }

  /** Logs in through the page (fresh browser) and returns a code with its PKCE verifier. */
  async function code(
    client: { client_id: string },
    scope?: string,
  ): Promise<{ code: string; pkce: Pkce }> {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      {
        clientId: client.client_id,
        redirectUri: REDIRECT,
        challenge: p.challenge,
        state: 'xyz',
        scope,
      },
      USER,
    )
    assert.equal(landed.origin + landed.pathname, REDIRECT)
    assert.equal(landed.searchParams.get('state'), 'xyz')
    const c = landed.searchParams.get('code')
    assert.ok(c, `no code in ${landed.href}`)
    return { code: c, pkce: p }
  }

  function exchange(client: CreatedClient, c: string, verifier: string, redirectUri = REDIRECT) {
    return server.post(
      '/token',
      {
        grant_type: 'authorization_code',
        code: c,
        code_verifier: verifier,
        redirect_uri: redirectUri,
      },
      creds(client),
    )
  }

  async function login(client: CreatedClient = app): Promise<Tokens> {
    const c = await code(client)
    const res = await exchange(client, c.code, c.pkce.verifier)
    assert.equal(res.status, 200, res.text)
    return res.json as unknown as Tokens
  }

  const refresh = (client: CreatedClient, token: string, extra: Record<string, string> = {}) =>
    server.post(
      '/token',
      { grant_type: 'refresh_token', refresh_token: token, ...extra },
      creds(client),
    )

  it('logs a user in and issues a JWT access token with sub and sid, and an opaque refresh token', async () => {
    const t = await login()
    assert.equal(t.token_type, 'Bearer')
    assert.match(t.refresh_token, /^[A-Za-z0-9_-]{43}$/)
    const claims = decodeJwt(t.access_token)
    assert.equal(claims.sub, userId)
    assert.equal(claims.client_id, 'web')
    assert.equal(typeof claims.sid, 'string')
    assert.equal(claims.scope, 'openid profile orders')
    const seen = await introspect(t.access_token)
    assert.equal(seen.active, true)
    assert.equal(seen.sid, claims.sid)
    const rt = await introspect(t.refresh_token, app)
    assert.equal(rt.active, true)
    assert.equal(rt.sid, claims.sid)
  })

  it('reports a refresh token active only to its own client: a resource server gets exactly {"active":false}', async () => {
    const t = await login()
    const hints: Record<string, string>[] = [
      {},
      { token_type_hint: 'refresh_token' },
      { token_type_hint: 'access_token' },
    ]
    for (const hint of hints) {
      const label = JSON.stringify(hint)
      // An API that checks only `active` must never take a refresh token for an access token.
      assert.deepEqual(await introspect(t.refresh_token, api, hint), { active: false }, label)
      assert.deepEqual(await introspect(t.refresh_token, other, hint), { active: false }, label)
      const own = await introspect(t.refresh_token, app, hint)
      assert.equal(own.active, true, label)
      assert.equal(own.client_id, 'web', label)
      // RFC 8693 §2.2.1: not usable as an access token; never `Bearer`.
      assert.equal(own.token_type, 'N_A', label)
      assert.equal(own.aud, undefined, label)
    }
    // The still-live refresh token works after all those introspections.
    assert.equal((await refresh(app, t.refresh_token)).status, 200)
  })

  it('reports an access token active to its own client and to a resource server only, whatever the hint', async () => {
    const t = await login()
    const hints: Record<string, string>[] = [{}, { token_type_hint: 'refresh_token' }]
    for (const hint of hints) {
      const label = JSON.stringify(hint)
      for (const client of [app, api]) {
        const seen = await introspect(t.access_token, client, hint)
        assert.equal(seen.active, true, `${client.client_id} ${label}`)
        assert.equal(seen.token_type, 'Bearer', label)
      }
      assert.deepEqual(await introspect(t.access_token, other, hint), { active: false }, label)
    }
  })

  it('reports an authorization code as inactive to everyone', async () => {
    const c = await code(app)
    for (const client of [api, app, other]) {
      for (const hint of [{}, { token_type_hint: 'refresh_token' }] as Record<string, string>[]) {
        assert.deepEqual(await introspect(c.code, client, hint), { active: false })
      }
    }
    const redeemed = await exchange(app, c.code, c.pkce.verifier)
    assert.equal(redeemed.status, 200, 'introspection did not consume the code')
    assert.deepEqual(await introspect(c.code, app), { active: false })
  })

  it('rotates the refresh token on every use, in the same session', async () => {
    const t = await login()
    const first = await refresh(app, t.refresh_token)
    assert.equal(first.status, 200, first.text)
    const next = first.json as unknown as Tokens
    assert.notEqual(next.refresh_token, t.refresh_token)
    assert.equal(decodeJwt(next.access_token).sid, decodeJwt(t.access_token).sid)
    const second = await refresh(app, next.refresh_token)
    assert.equal(second.status, 200)
    assert.deepEqual(
      await introspect(t.refresh_token, app),
      { active: false },
      'a rotated token is not active',
    )
  })

  it('gives a retry inside the grace window the same successor, not a second lineage', async () => {
    const t = await login()
    const a = await refresh(app, t.refresh_token)
    const b = await refresh(app, t.refresh_token)
    assert.equal(a.status, 200)
    assert.equal(b.status, 200, b.text)
    assert.equal(b.json.refresh_token, a.json.refresh_token)
    // The successor is still the session's live token.
    assert.equal((await refresh(app, a.json.refresh_token as string)).status, 200)
  })

  it('ends the whole session when a rotated refresh token is reused after the grace window', async () => {
    const t = await login()
    const rotated = (await refresh(app, t.refresh_token)).json as unknown as Tokens
    await sleep(1300)
    const reuse = await refresh(app, t.refresh_token)
    assert.equal(reuse.status, 400)
    assert.equal(reuse.json.error, 'invalid_grant')
    // The newest refresh token and every access token of the session are dead.
    const newest = await refresh(app, rotated.refresh_token)
    assert.equal(newest.json.error, 'invalid_grant')
    assert.deepEqual(await introspect(rotated.access_token), { active: false })
    assert.deepEqual(await introspect(t.access_token), { active: false })
    assert.deepEqual(await introspect(rotated.refresh_token, app), { active: false })
  })

  it('lets exactly one lineage survive N parallel refreshes', async () => {
    const t = await login()
    const results = await Promise.all(
      Array.from({ length: 10 }, () => refresh(app, t.refresh_token)),
    )
    for (const r of results) assert.ok(r.status === 200 || r.status === 400, r.text)
    const successors = new Set(
      results.filter((r) => r.status === 200).map((r) => r.json.refresh_token),
    )
    assert.equal(successors.size, 1, 'every winner got the same successor')
    const [successor] = [...successors] as string[]
    assert.equal((await refresh(app, successor!)).status, 200)
  })

  it('refuses a refresh token presented by another client, and a wider scope', async () => {
    const t = await login()
    const stolen = await refresh(other, t.refresh_token)
    assert.equal(stolen.status, 400)
    assert.equal(stolen.json.error, 'invalid_grant')
    const wider = await refresh(app, t.refresh_token, { scope: 'openid admin' })
    assert.equal(wider.json.error, 'invalid_scope')
    const narrower = await refresh(app, t.refresh_token, { scope: 'openid' })
    assert.equal(narrower.status, 200, narrower.text)
    assert.equal(narrower.json.scope, 'openid')
    assert.equal(decodeJwt(narrower.json.access_token as string).scope, 'openid')
  })

  it('refuses a replayed code and revokes the tokens it issued', async () => {
    const c = await code(app)
    const first = await exchange(app, c.code, c.pkce.verifier)
    assert.equal(first.status, 200)
    const replay = await exchange(app, c.code, c.pkce.verifier)
    assert.equal(replay.status, 400)
    assert.equal(replay.json.error, 'invalid_grant')
    assert.deepEqual(await introspect(first.json.access_token as string), { active: false })
    assert.equal(
      (await refresh(app, first.json.refresh_token as string)).json.error,
      'invalid_grant',
    )
  })

  it('redeems a code exactly once under twenty parallel requests', async () => {
    const c = await code(app)
    const results = await Promise.all(
      Array.from({ length: 20 }, () => exchange(app, c.code, c.pkce.verifier)),
    )
    assert.equal(results.filter((r) => r.status === 200).length, 1)
    for (const r of results.filter((x) => x.status !== 200))
      assert.equal(r.json.error, 'invalid_grant')
  })

  it('refuses a code redeemed by another client, with another redirect_uri, or with a wrong verifier', async () => {
    const a = await code(app)
    assert.equal((await exchange(other, a.code, a.pkce.verifier)).json.error, 'invalid_grant')
    const b = await code(app)
    assert.equal(
      (await exchange(app, b.code, b.pkce.verifier, REDIRECT + '/')).json.error,
      'invalid_grant',
    )
    const c = await code(app)
    assert.equal((await exchange(app, c.code, pkce().verifier)).json.error, 'invalid_grant')
    const d = await code(app)
    const missing = await server.post(
      '/token',
      { grant_type: 'authorization_code', code: d.code, redirect_uri: REDIRECT },
      creds(app),
    )
    assert.equal(missing.status, 400)
    assert.equal(missing.json.error, 'invalid_request')
  })

  it('serves public clients with PKCE and no secret', async () => {
    const c = await code(publicApp)
    const res = await server.post('/token', {
      grant_type: 'authorization_code',
      code: c.code,
      code_verifier: c.pkce.verifier,
      redirect_uri: REDIRECT,
      client_id: publicApp.client_id,
    })
    assert.equal(res.status, 200, res.text)
    const again = await server.post('/token', {
      grant_type: 'refresh_token',
      refresh_token: res.json.refresh_token as string,
      client_id: publicApp.client_id,
    })
    assert.equal(again.status, 200, again.text)
  })

  it('ends a session on RFC 7009 revocation of its refresh token, access tokens included', async () => {
    const t = await login(opaqueApp)
    assert.equal((await introspect(t.access_token)).active, true)
    const res = await server.post('/revoke', { token: t.refresh_token }, creds(opaqueApp))
    assert.equal(res.status, 200)
    assert.deepEqual(await introspect(t.access_token), { active: false })
    assert.equal((await refresh(opaqueApp, t.refresh_token)).json.error, 'invalid_grant')
  })

  it('lists sessions and honours a revocation made by the CLI within a second', async () => {
    const t = await login()
    const sid = decodeJwt(t.access_token).sid as string
    const listed = cli(['session', 'list', '--db', server.db, '--user', USER.username])
    assert.equal(listed.status, 0, listed.stderr)
    const sessions = listed.json as { id: string; client_id: string; username: string }[]
    const mine = sessions.find((s) => s.id === sid)
    assert.ok(mine)
    assert.equal(mine.client_id, 'web')
    assert.equal(mine.username, USER.username)
    const byClient = cli(['session', 'list', '--db', server.db, '--client', 'web']).json as {
      id: string
    }[]
    assert.ok(byClient.some((s) => s.id === sid))

    const revoked = cli(['session', 'revoke', '--db', server.db, '--id', sid])
    assert.equal(revoked.status, 0, revoked.stderr)
    assert.deepEqual(revoked.json, { revoked: [sid] })
    const started = Date.now()
    let inactive = false
    while (Date.now() - started < 1000 && !inactive) {
      inactive = (await introspect(t.access_token)).active === false
    }
    assert.ok(inactive, 'introspection says inactive within one second')
    assert.equal((await refresh(app, t.refresh_token)).json.error, 'invalid_grant')
    assert.equal(cli(['session', 'revoke', '--db', server.db, '--id', 'no-such-session']).status, 1)
  })

  it('revokes every session of a user from the CLI, and the browser must log in again', async () => {
    const browser = new Browser(server.url)
    const p = pkce()
    const params = { clientId: 'web', redirectUri: REDIRECT, challenge: p.challenge }
    const first = await authorize(browser, params, USER)
    const t1 = await exchange(app, first.searchParams.get('code') ?? '', p.verifier)
    assert.equal(t1.status, 200)
    // Logged in: the next authorization request skips the form.
    const again = await browser.get(
      `/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'web', redirect_uri: REDIRECT, code_challenge: p.challenge, code_challenge_method: 'S256', state: 's' }).toString()}`,
    )
    assert.equal(again.status, 303)

    const revoked = cli(['session', 'revoke', '--db', server.db, '--user', USER.username])
    assert.equal(revoked.status, 0, revoked.stderr)
    assert.ok((revoked.json as { revoked: string[] }).revoked.length >= 1)
    assert.deepEqual(await introspect(t1.json.access_token as string), { active: false })
    const form = await browser.get(
      `/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'web', redirect_uri: REDIRECT, code_challenge: p.challenge, code_challenge_method: 'S256', state: 's' }).toString()}`,
    )
    assert.equal(form.status, 200, 'the login form is shown again')
  })

  it('signs a user out everywhere when their password is changed', async () => {
    const dave = { username: 'dave', password: 'daves first password' }
    assert.equal(
      cli(['user', 'create', '--db', server.db, '--username', 'dave'], {
        input: dave.password + '\n',
      }).status,
      0,
    )
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: 'web', redirectUri: REDIRECT, challenge: p.challenge },
      dave,
    )
    const t = await exchange(app, landed.searchParams.get('code') ?? '', p.verifier)
    assert.equal(t.status, 200)
    const changed = cli(['user', 'set-password', '--db', server.db, '--username', 'dave'], {
      input: 'daves second password\n',
    })
    assert.equal(changed.status, 0, changed.stderr)
    assert.equal((changed.json as { sessions_revoked: number }).sessions_revoked, 1)
    assert.deepEqual(await introspect(t.json.access_token as string), { active: false })
    assert.equal((await refresh(app, t.json.refresh_token as string)).json.error, 'invalid_grant')
  })

  it('ends the sessions of a deleted user and of a deleted client', async () => {
    const created = cli(['user', 'create', '--db', server.db, '--username', 'bob'], {
      input: 'bobs password 123\n',
    })
    assert.equal(created.status, 0, created.stderr)
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: 'web', redirectUri: REDIRECT, challenge: p.challenge },
      { username: 'bob', password: 'bobs password 123' },
    )
    const t = await exchange(app, landed.searchParams.get('code') ?? '', p.verifier)
    assert.equal(t.status, 200)
    assert.equal(cli(['user', 'delete', '--db', server.db, '--username', 'bob']).status, 0)
    assert.deepEqual(await introspect(t.json.access_token as string), { active: false })
    assert.equal((await refresh(app, t.json.refresh_token as string)).json.error, 'invalid_grant')

    const doomed = createClient(
      server.db,
      'doomed',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--redirect-uri',
      REDIRECT,
    )
    const d = await login(doomed)
    assert.equal(cli(['client', 'delete', '--db', server.db, '--id', 'doomed']).status, 0)
    assert.deepEqual(await introspect(d.access_token), { active: false })
    assert.deepEqual(await introspect(d.refresh_token), { active: false })
  })
})
