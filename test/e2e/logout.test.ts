/**
 * RP-Initiated Logout 1.0 against a real server: the confirmation page and its CSRF check, the
 * redirect to a registered post-logout URI with `state`, the error page for any other URI, what a
 * logout ends (the browser login, its sessions' refresh and access tokens), the setting that keeps
 * the sessions, and `id_token_hint`s the server did not sign.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair, SignJWT } from 'jose'
import { authorizeQuery, Browser, formFields, pkce } from '../helpers/browser.js'
import { serverSignedIdToken, signIn, type SignedIn } from '../helpers/logout.js'
import {
  createClient,
  createUser,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const BYE = 'https://app.example/signed-out'
const USER = { username: 'alice', password: 'correct horse battery' }
const now = (): number => Math.floor(Date.now() / 1000)

/** Registers the clients and the user on a new server's database. */
function setUp(server: TestServer): { web: CreatedClient; api: CreatedClient } {
  const web = createClient(
    server.db,
    'web',
    ...['--grant', 'authorization_code', '--grant', 'refresh_token', '--scope', 'openid'],
    ...['--redirect-uri', REDIRECT, '--post-logout-redirect-uri', BYE],
  )
  const api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
  createUser(server.db, USER)
  return { web, api }
}

describe('logout (OpenID Connect RP-Initiated Logout 1.0)', () => {
  let server: TestServer
  let web: CreatedClient
  let api: CreatedClient

  before(async () => {
    server = await startServer()
    ;({ web, api } = setUp(server))
  })
  after(() => server.dispose())

  const logoutQuery = (params: Record<string, string>): string =>
    `/logout?${new URLSearchParams(params).toString()}`

  /** Whether the browser is still signed in: the authorization endpoint answers with a code. */
  async function signedIn(browser: Browser): Promise<boolean> {
    const res = await browser.get(
      authorizeQuery({ clientId: 'web', redirectUri: REDIRECT, challenge: pkce().challenge }),
    )
    if (res.status === 303) return true
    assert.equal(res.status, 200, res.text)
    return false
  }

  /** Whether the session's refresh token still works and its access token is still active. */
  async function sessionWorks(s: SignedIn): Promise<{ refresh: boolean; access: boolean }> {
    const introspected = await server.post('/introspect', { token: s.accessToken }, [
      api.client_id,
      api.client_secret,
    ])
    assert.equal(introspected.status, 200, introspected.text)
    const refreshed = await server.post(
      '/token',
      { grant_type: 'refresh_token', refresh_token: s.refreshToken },
      [web.client_id, web.client_secret],
    )
    if (refreshed.status !== 200) assert.equal(refreshed.json.error, 'invalid_grant')
    return { refresh: refreshed.status === 200, access: introspected.json.active === true }
  }

  const hintFor = (s: SignedIn, extra: Record<string, unknown> = {}): Promise<string> =>
    serverSignedIdToken(server.db, {
      iss: server.url,
      sub: s.sub,
      aud: 'web',
      azp: 'web',
      sid: s.sid,
      iat: now() - 600,
      // Expired: RP-Initiated Logout §2 accepts an expired hint.
      exp: now() - 300,
      ...extra,
    })

  it('asks for confirmation without an id_token_hint, and refuses the confirmation without its CSRF cookie', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    const page = await s.browser.get(
      logoutQuery({ client_id: 'web', post_logout_redirect_uri: BYE, state: 'st-1' }),
    )
    assert.equal(page.status, 200, page.text)
    assert.match(page.text, /Sign out/)
    assert.match(page.text, /name="choice" value="cancel"/)
    assert.doesNotMatch(page.text, /<script/i)
    const csp = String(page.headers['content-security-policy'])
    assert.match(csp, /default-src 'none'/)
    assert.match(csp, /form-action 'self' https:\/\/app\.example/)
    const fields = formFields(page.text)
    assert.equal(fields.post_logout_redirect_uri, BYE)
    assert.equal(fields.state, 'st-1')
    assert.ok(fields.csrf_token)
    // Just asking changed nothing.
    assert.equal(await signedIn(s.browser), true)

    // Another site's form: the fields, but not the browser's SameSite=Strict CSRF cookie.
    const attacker = await new Browser(server.url).postForm('/logout', {
      ...fields,
      choice: 'sign_out',
    })
    assert.equal(attacker.status, 403)
    assert.equal(attacker.headers.location, undefined)
    // A forged token with the browser's own cookie.
    const forged = await s.browser.postForm('/logout', {
      ...fields,
      csrf_token: 'A'.repeat(43),
      choice: 'sign_out',
    })
    assert.equal(forged.status, 403)
    assert.equal(await signedIn(s.browser), true)
    assert.deepEqual(await sessionWorks(s), { refresh: true, access: true })

    // Cancel: still signed in.
    const again = formFields((await s.browser.get(logoutQuery({ client_id: 'web' }))).text)
    const cancelled = await s.browser.postForm('/logout', { ...again, choice: 'cancel' })
    assert.equal(cancelled.status, 200)
    assert.match(cancelled.text, /still signed in/)
    assert.equal(await signedIn(s.browser), true)
  })

  it('signs out after confirmation, redirects to the registered URI with state, and ends the sessions', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    const page = await s.browser.get(
      logoutQuery({ client_id: 'web', post_logout_redirect_uri: BYE, state: 'st-2' }),
    )
    const done = await s.browser.postForm('/logout', {
      ...formFields(page.text),
      choice: 'sign_out',
    })
    assert.equal(done.status, 303, done.text)
    assert.equal(done.headers.location, `${BYE}?state=st-2`)
    assert.equal(await signedIn(s.browser), false)
    // The refresh token's session ended: invalid_grant; its access token: not active.
    assert.deepEqual(await sessionWorks(s), { refresh: false, access: false })
  })

  it('signs out at once with a valid (expired) id_token_hint, and says so without a redirect URI', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    const other = await signIn(server, web, REDIRECT, USER)
    const res = await s.browser.get(logoutQuery({ id_token_hint: await hintFor(s), state: 'x' }))
    assert.equal(res.status, 200, res.text)
    assert.match(res.text, /You are signed out/)
    const cleared = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith('latchkey_login='))
    assert.ok(cleared, 'the login cookie is cleared')
    assert.match(cleared, /latchkey_login=;/)
    assert.equal(await signedIn(s.browser), false)
    assert.deepEqual(await sessionWorks(s), { refresh: false, access: false })
    // Another browser's login of the same user is its own.
    assert.equal(await signedIn(other.browser), true)
    assert.deepEqual(await sessionWorks(other), { refresh: true, access: true })
  })

  it('redirects with state after a hint and the matching client_id', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    const res = await s.browser.get(
      logoutQuery({
        id_token_hint: await hintFor(s),
        client_id: 'web',
        post_logout_redirect_uri: BYE,
        state: 'st-3',
      }),
    )
    assert.equal(res.status, 303, res.text)
    assert.equal(res.headers.location, `${BYE}?state=st-3`)
    assert.deepEqual(await sessionWorks(s), { refresh: false, access: false })
  })

  it('takes a relying party’s POST with a hint, and asks when the hint is another user’s', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    // A hint for someone else than the signed-in user: not proof enough, ask.
    const bobs = await hintFor(s, { sub: 'someone-else', sid: 'another-session' })
    const asked = await s.browser.postForm('/logout', { id_token_hint: bobs, state: 'p' })
    assert.equal(asked.status, 200, asked.text)
    assert.match(asked.text, /name="choice" value="sign_out"/)
    assert.doesNotMatch(asked.text, /id_token_hint/)
    assert.equal(await signedIn(s.browser), true)
    // The user's own hint, POSTed as §2 allows: signed out at once.
    const done = await s.browser.postForm('/logout', {
      id_token_hint: await hintFor(s),
      post_logout_redirect_uri: BYE,
      state: 'p',
    })
    assert.equal(done.status, 303, done.text)
    assert.equal(done.headers.location, `${BYE}?state=p`)
    assert.equal(await signedIn(s.browser), false)
    assert.deepEqual(await sessionWorks(s), { refresh: false, access: false })
  })

  it('ends the session the hint names when the browser has no login cookie', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    const res = await new Browser(server.url).get(logoutQuery({ id_token_hint: await hintFor(s) }))
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(await sessionWorks(s), { refresh: false, access: false })
  })

  it('shows an error page, never a redirect, for a post-logout URI that is not registered', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    const hint = await hintFor(s)
    const cases: Record<string, string>[] = [
      { client_id: 'web', post_logout_redirect_uri: 'https://evil.example/' },
      { client_id: 'web', post_logout_redirect_uri: `${BYE}/` },
      { client_id: 'web', post_logout_redirect_uri: `${BYE}?next=https://evil.example` },
      { client_id: 'web', post_logout_redirect_uri: BYE.toUpperCase() },
      { client_id: 'web', post_logout_redirect_uri: REDIRECT },
      // No client to check it against.
      { post_logout_redirect_uri: BYE },
      { client_id: 'nobody', post_logout_redirect_uri: BYE },
      { id_token_hint: hint, post_logout_redirect_uri: 'https://evil.example/' },
      // Two different clients.
      { id_token_hint: hint, client_id: 'api', post_logout_redirect_uri: BYE },
    ]
    for (const params of cases) {
      const res = await s.browser.get(logoutQuery(params))
      assert.equal(res.status, 400, JSON.stringify(params))
      assert.equal(res.headers.location, undefined)
      assert.match(String(res.headers['content-type']), /^text\/html/)
    }
    const repeated = await s.browser.get(
      `/logout?client_id=web&post_logout_redirect_uri=${encodeURIComponent(BYE)}&state=a&state=b`,
    )
    assert.equal(repeated.status, 400)
    assert.equal(await signedIn(s.browser), true)
    assert.deepEqual(await sessionWorks(s), { refresh: true, access: true })
  })

  it('refuses with 400 an id_token_hint signed by a key that is not ours, for another issuer, or not an ID token', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    const jwks = (await server.get('/.well-known/jwks.json')).json as { keys: { kid: string }[] }
    const ourKid = jwks.keys[0]!.kid
    const { privateKey } = await generateKeyPair('ES256')
    const claims = { sub: s.sub, aud: 'web', sid: s.sid, iss: server.url }
    const forged = (kid: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
    for (const hint of [
      await forged(ourKid),
      await forged('not-our-key'),
      await hintFor(s, { iss: 'https://elsewhere.example' }),
      // Ours, but an access token (typ at+jwt), not an ID token.
      s.accessToken,
      // Ours, for a client that does not exist.
      await hintFor(s, { aud: 'nobody', azp: 'nobody' }),
      'not.a.jwt',
    ]) {
      const res = await s.browser.get(
        logoutQuery({ id_token_hint: hint, post_logout_redirect_uri: BYE, state: 's' }),
      )
      assert.equal(res.status, 400, res.text)
      assert.equal(res.headers.location, undefined)
    }
    assert.equal(await signedIn(s.browser), true)
    assert.deepEqual(await sessionWorks(s), { refresh: true, access: true })
  })
})

describe('logout with logoutEndsSessions false', () => {
  let server: TestServer
  let web: CreatedClient
  let api: CreatedClient

  before(async () => {
    server = await startServer({ args: ['--logout-ends-sessions', 'false'] })
    ;({ web, api } = setUp(server))
  })
  after(() => server.dispose())

  it('ends only the browser login: the session keeps its refresh and access tokens', async () => {
    const s = await signIn(server, web, REDIRECT, USER)
    const hint = await serverSignedIdToken(server.db, {
      iss: server.url,
      sub: s.sub,
      aud: 'web',
      sid: s.sid,
      iat: now(),
      exp: now() + 300,
    })
    const res = await s.browser.get(
      `/logout?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: BYE }).toString()}`,
    )
    assert.equal(res.status, 303, res.text)
    assert.equal(res.headers.location, BYE)
    const authorizePage = await s.browser.get(
      authorizeQuery({ clientId: 'web', redirectUri: REDIRECT, challenge: pkce().challenge }),
    )
    assert.equal(authorizePage.status, 200, 'the browser must sign in again')
    const introspected = await server.post('/introspect', { token: s.accessToken }, [
      api.client_id,
      api.client_secret,
    ])
    assert.equal(introspected.json.active, true)
    const refreshed = await server.post(
      '/token',
      { grant_type: 'refresh_token', refresh_token: s.refreshToken },
      [web.client_id, web.client_secret],
    )
    assert.equal(refreshed.status, 200, refreshed.text)
  })
})
