/**
 * Consent for third-party clients (OpenID Connect Core §3.1.2.4) against a real server, driven by a
 * browser with cookies over HTTP and the real CLI: the page is shown once and then remembered, asked
 * again for a wider scope or with `prompt=consent`, refused without its CSRF token, from another
 * login or with a changed hidden field; a code is issued only for the approved scopes; `consent
 * revoke` takes the application's access away; first-party clients never see the page; pushed
 * requests and an issuer with a path work.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeJwt } from 'jose'
import {
  authorize,
  authorizeQuery,
  Browser,
  formAction,
  formFields,
  pkce,
} from '../helpers/browser.js'
import {
  cli,
  createClient,
  createUser,
  freePort,
  request,
  startServer,
  basic,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const ALICE = { username: 'alice', password: 'correct horse battery' }
const BOB = { username: 'bob', password: 'another horse battery' }
const CAROL = { username: 'carol', password: 'a third horse battery' }

interface Flow {
  browser: Browser
  verifier: string
  state: string
}

/** The redirect's query, asserting it is one to the client. */
function redirected(res: HttpResponse): URLSearchParams {
  assert.equal(res.status, 303, res.text.slice(0, 300))
  const location = res.headers.location
  assert.ok(location?.startsWith(REDIRECT), location)
  return new URL(location!).searchParams
}

/** Whether the page is the consent page (and not the login form), shown with `status`. */
function isConsentPage(res: HttpResponse, status = 200): boolean {
  return (
    res.status === status && /Allow access\?/.test(res.text) && !/name="password"/.test(res.text)
  )
}

describe('consent for third-party clients', () => {
  let server: TestServer
  let third: CreatedClient
  let firstParty: CreatedClient
  let pushedOnly: CreatedClient

  before(async () => {
    server = await startServer()
    const code = ['--grant', 'authorization_code', '--grant', 'refresh_token']
    third = createClient(
      server.db,
      'third',
      ...code,
      ...['--redirect-uri', REDIRECT, '--scope', 'openid profile email', '--third-party'],
      ...['--display-name', 'Photos <b>&amp; "Co"</b>'],
    )
    firstParty = createClient(
      server.db,
      'web',
      ...code,
      ...['--redirect-uri', REDIRECT, '--scope', 'openid profile email'],
    )
    pushedOnly = createClient(
      server.db,
      'pushed',
      ...code,
      ...[
        '--redirect-uri',
        REDIRECT,
        '--scope',
        'openid profile',
        '--third-party',
        '--require-par',
      ],
    )
    for (const u of [ALICE, BOB, CAROL]) createUser(server.db, u)
  })
  after(() => server.dispose())

  /** The query of an authorization request of `client` for `scope`, and its flow. */
  function start(
    client: CreatedClient,
    scope: string,
    extra: Record<string, string> = {},
    browser = new Browser(server.url),
  ): { flow: Flow; query: string } {
    const p = pkce()
    const state = `st-${Math.random().toString(36).slice(2)}`
    const q = authorizeQuery({
      clientId: client.client_id,
      redirectUri: REDIRECT,
      challenge: p.challenge,
      scope,
      state,
    })
    const more = new URLSearchParams(extra).toString()
    return { flow: { browser, verifier: p.verifier, state }, query: more ? `${q}&${more}` : q }
  }

  /** GET the authorization endpoint, signing in when the login form comes; the page or redirect. */
  async function visit(browser: Browser, query: string, user = ALICE): Promise<HttpResponse> {
    let res = await browser.get(query)
    if (res.status === 200 && /name="password"/.test(res.text)) {
      res = await browser.postForm(formAction(res.text)!, { ...formFields(res.text), ...user })
    }
    return res
  }

  /** Posts the consent page's form as shown, with `extra` fields (a button's). */
  function answer(flow: Flow, page: HttpResponse, extra: Record<string, string> = {}) {
    return flow.browser.postForm(formAction(page.text)!, { ...formFields(page.text), ...extra })
  }

  async function redeem(client: CreatedClient, code: string, verifier: string) {
    return server.post(
      '/token',
      { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT },
      [client.client_id, client.client_secret],
    )
  }

  function consentCli(...args: string[]): ReturnType<typeof cli> {
    return cli(['consent', ...args, '--db', server.db])
  }

  it('shows the consent page once after sign-in, then remembers it; the token has exactly the approved scopes', async () => {
    const { flow, query } = start(third, 'openid profile')
    const page = await visit(flow.browser, query)
    assert.ok(isConsentPage(page), page.text.slice(0, 500))
    // The page lists the scope names it asks for, in a POST form with two buttons.
    assert.match(page.text, /<form method="post"/)
    assert.match(page.text, /<code>openid<\/code>/)
    assert.match(page.text, /<code>profile<\/code>/)
    assert.ok(!page.text.includes('<code>email</code>'))
    assert.match(page.text, /<button type="submit" name="decision" value="approve"/)
    assert.match(page.text, /<button type="submit" name="decision" value="cancel"/)
    assert.ok(!/type="checkbox"/.test(page.text))
    assert.ok(!/<script/i.test(page.text))
    // The client's name is escaped.
    assert.ok(page.text.includes('Photos &lt;b&gt;&amp;amp; &quot;Co&quot;&lt;/b&gt;'))
    assert.ok(!page.text.includes('<b>&amp;'))
    // Strict CSP: no framing (clickjacking), posts only here and, for the redirect after, the client.
    const csp = String(page.headers['content-security-policy'])
    assert.match(csp, /frame-ancestors 'none'/)
    assert.match(csp, /form-action 'self' https:\/\/app\.example(;|$)/)
    assert.match(csp, /default-src 'none'/)
    assert.equal(page.headers['x-frame-options'], 'DENY')
    assert.equal(page.headers['cache-control'], 'no-store')
    assert.equal(formAction(page.text), '/authorize/consent')

    // Any form submitter approves: the fields as shown, no button named.
    const q = redirected(await answer(flow, page))
    assert.equal(q.get('state'), flow.state)
    assert.equal(q.get('iss'), server.url)
    const tokens = await redeem(third, q.get('code')!, flow.verifier)
    assert.equal(tokens.status, 200, tokens.text)
    assert.equal(tokens.json.scope, 'openid profile')
    assert.equal(decodeJwt(tokens.json.access_token as string).scope, 'openid profile')

    // Remembered: the same request (or a narrower one) gets a code at once.
    for (const scope of ['openid profile', 'profile']) {
      const again = start(third, scope, {}, flow.browser)
      const code = redirected(await flow.browser.get(again.query)).get('code')
      assert.ok(code, scope)
    }
    const listed = consentCli('list', '--user', 'alice')
    assert.equal(listed.status, 0, listed.stderr)
    const consents = listed.json as Record<string, unknown>[]
    assert.equal(consents.length, 1)
    assert.equal(consents[0]?.client_id, 'third')
    assert.equal(consents[0]?.username, 'alice')
    assert.equal(consents[0]?.scope, 'openid profile')
  })

  it('asks again for a wider scope, lists what it asks, and remembers the union', async () => {
    const browser = new Browser(server.url)
    const first = start(third, 'openid', {}, browser)
    redirected(await answer(first.flow, await visit(browser, first.query, BOB)))
    const wider = start(third, 'openid email', {}, browser)
    const page = await browser.get(wider.query)
    assert.ok(isConsentPage(page))
    assert.match(page.text, /<code>email<\/code>/)
    const q = redirected(await answer(wider.flow, page, { decision: 'approve' }))
    const tokens = await redeem(third, q.get('code')!, wider.flow.verifier)
    assert.equal(tokens.json.scope, 'openid email')
    const listed = consentCli('list', '--user', 'bob', '--client', 'third')
    assert.equal(listed.status, 0, listed.stderr)
    assert.equal((listed.json as Record<string, unknown>[])[0]?.scope, 'email openid')
  })

  it('never lists or remembers latchkey:admin for a user without the admin role', async () => {
    const adminApp = createClient(
      server.db,
      'third-admin',
      ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--third-party'],
      ...['--scope', 'openid latchkey:admin'],
    )
    const browser = new Browser(server.url)
    const { flow, query } = start(adminApp, 'openid latchkey:admin', {}, browser)
    const page = await visit(browser, query, CAROL)
    assert.ok(isConsentPage(page), page.text.slice(0, 500))
    assert.match(page.text, /<code>openid<\/code>/)
    assert.ok(!page.text.includes('<code>latchkey:admin</code>'), 'not offered')
    const q = redirected(await answer(flow, page))
    const tokens = await redeem(adminApp, q.get('code')!, flow.verifier)
    assert.equal(tokens.json.scope, 'openid')
    const listed = consentCli('list', '--user', 'carol', '--client', 'third-admin')
    assert.equal((listed.json as Record<string, unknown>[])[0]?.scope, 'openid')
  })

  it('asks again with prompt=consent even when remembered', async () => {
    const browser = new Browser(server.url)
    const first = start(third, 'openid', {}, browser)
    redirected(await answer(first.flow, await visit(browser, first.query, CAROL)))
    const plain = start(third, 'openid', {}, browser)
    assert.ok(redirected(await browser.get(plain.query)).get('code'))
    const forced = start(third, 'openid', { prompt: 'consent' }, browser)
    const page = await browser.get(forced.query)
    assert.ok(isConsentPage(page))
    // Its POST does not ask again: it grants.
    assert.ok(redirected(await answer(forced.flow, page)).get('code'))
  })

  it('answers prompt=none with consent_required when the user has not approved', async () => {
    const browser = new Browser(server.url)
    const user = { username: 'dave', password: 'yet another horse battery' }
    createUser(server.db, user)
    // Signed in through a first-party client: a live login, no consent to `third`.
    const landed = await authorize(
      browser,
      { clientId: firstParty.client_id, redirectUri: REDIRECT, challenge: pkce().challenge },
      user,
    )
    assert.ok(landed.searchParams.has('code'))
    const { flow, query } = start(third, 'openid', { prompt: 'none' }, browser)
    const q = redirected(await browser.get(query))
    assert.equal(q.get('error'), 'consent_required')
    assert.equal(q.get('state'), flow.state)
    assert.equal(q.get('iss'), server.url)
  })

  it('redirects access_denied with state and iss on cancel, and remembers nothing', async () => {
    const user = { username: 'erin', password: 'yet another horse battery' }
    createUser(server.db, user)
    const { flow, query } = start(third, 'openid profile')
    const page = await visit(flow.browser, query, user)
    assert.ok(isConsentPage(page))
    const q = redirected(await answer(flow, page, { decision: 'cancel' }))
    assert.equal(q.get('error'), 'access_denied')
    assert.equal(q.get('state'), flow.state)
    assert.equal(q.get('iss'), server.url)
    assert.equal(q.get('code'), null)
    const listed = consentCli('list', '--user', 'erin')
    assert.deepEqual(listed.json, [])
    // Asked again next time.
    const again = start(third, 'openid', {}, flow.browser)
    assert.ok(isConsentPage(await flow.browser.get(again.query)))
  })

  it('refuses a consent POST without its CSRF token, or carrying another login’s mark', async () => {
    const user = { username: 'frank', password: 'yet another horse battery' }
    createUser(server.db, user)
    const { flow, query } = start(third, 'openid')
    const page = await visit(flow.browser, query, user)
    assert.ok(isConsentPage(page))
    const action = formAction(page.text)!
    const fields = formFields(page.text)

    const noCsrf = { ...fields }
    delete noCsrf.csrf_token
    const refused = await flow.browser.postForm(action, noCsrf)
    assert.equal(refused.status, 403)
    assert.equal(refused.headers.location, undefined)
    assert.ok(isConsentPage(refused, 403), 'the page is shown again, to be answered on purpose')
    const forged = await flow.browser.postForm(action, { ...fields, csrf_token: 'A'.repeat(43) })
    assert.equal(forged.status, 403)

    // Another browser, signed in as someone else, with its own valid CSRF token but this form's mark.
    const other = start(third, 'openid', { prompt: 'consent' })
    const otherPage = await visit(other.flow.browser, other.query, BOB)
    assert.ok(isConsentPage(otherPage))
    const otherFields = formFields(otherPage.text)
    const crossed = await other.flow.browser.postForm(action, {
      ...fields,
      csrf_token: otherFields.csrf_token!,
    })
    assert.equal(crossed.status, 403)
    assert.equal(crossed.headers.location, undefined)
    // Without any login cookie: the login form, no code.
    const anonymous = await new Browser(server.url).postForm(action, fields)
    assert.equal(anonymous.headers.location, undefined)
    assert.match(anonymous.text, /name="password"/)

    assert.deepEqual(consentCli('list', '--user', 'frank').json, [])
    // The page shown again after a refusal (with a fresh CSRF cookie) is answered on purpose.
    assert.ok(redirected(await answer(flow, forged)).get('code'))
  })

  it('does not honour a consent POST whose hidden scope was widened', async () => {
    const user = { username: 'grace', password: 'yet another horse battery' }
    createUser(server.db, user)
    const { flow, query } = start(third, 'openid')
    const page = await visit(flow.browser, query, user)
    assert.ok(isConsentPage(page))
    const fields = formFields(page.text)
    assert.equal(fields.scope, 'openid')
    const res = await flow.browser.postForm(formAction(page.text)!, {
      ...fields,
      scope: 'openid email profile',
    })
    assert.equal(res.status, 403)
    assert.equal(res.headers.location, undefined)
    assert.deepEqual(consentCli('list', '--user', 'grace').json, [])
    // Nor another client's id in the fields (a first-party one, which would never ask).
    const swapped = await flow.browser.postForm(formAction(page.text)!, {
      ...fields,
      client_id: 'web',
    })
    assert.equal(swapped.status, 403)
    assert.equal(swapped.headers.location, undefined)
  })

  it('never shows the page to first-party clients', async () => {
    const browser = new Browser(server.url)
    const { flow, query } = start(firstParty, 'openid profile email', {}, browser)
    const q = redirected(await visit(browser, query, ALICE))
    const tokens = await redeem(firstParty, q.get('code')!, flow.verifier)
    assert.equal(tokens.json.scope, 'openid profile email')
    const again = start(firstParty, 'openid', { prompt: 'consent' }, browser)
    assert.ok(redirected(await browser.get(again.query)).get('code'))
  })

  it('revokes a consent with the CLI: the app’s refresh token fails, and the page is shown again', async () => {
    const user = { username: 'heidi', password: 'yet another horse battery' }
    createUser(server.db, user)
    const { flow, query } = start(third, 'openid profile')
    const q = redirected(await answer(flow, await visit(flow.browser, query, user)))
    const tokens = await redeem(third, q.get('code')!, flow.verifier)
    assert.equal(tokens.status, 200, tokens.text)
    const refreshToken = tokens.json.refresh_token as string
    assert.ok(refreshToken)
    // An approved but unredeemed code must not outlive the consent either.
    const pending = start(third, 'openid', {}, flow.browser)
    const pendingCode = redirected(await flow.browser.get(pending.query)).get('code')!

    const revoked = consentCli('revoke', '--user', 'heidi', '--client', 'third')
    assert.equal(revoked.status, 0, revoked.stderr)
    const out = revoked.json as { revoked: string[]; sessions: string[] }
    assert.deepEqual(out.revoked, ['third'])
    assert.equal(out.sessions.length, 1)

    const refreshed = await server.post(
      '/token',
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      [third.client_id, third.client_secret],
    )
    assert.equal(refreshed.status, 400)
    assert.equal(refreshed.json.error, 'invalid_grant')
    const late = await redeem(third, pendingCode, pending.flow.verifier)
    assert.equal(late.json.error, 'invalid_grant')
    // The access token is inactive for introspection (its session ended).
    const introspected = await server.post(
      '/introspect',
      { token: tokens.json.access_token as string },
      [third.client_id, third.client_secret],
    )
    assert.equal(introspected.json.active, false)
    assert.deepEqual(consentCli('list', '--user', 'heidi').json, [])
    // The browser is still signed in, and asked again.
    const again = start(third, 'openid', {}, flow.browser)
    assert.ok(isConsentPage(await flow.browser.get(again.query)))
  })

  it('revokes every consent of a user without --client', async () => {
    const user = { username: 'ivan', password: 'yet another horse battery' }
    createUser(server.db, user)
    const { flow, query } = start(third, 'openid')
    redirected(await answer(flow, await visit(flow.browser, query, user)))
    const revoked = consentCli('revoke', '--user', 'ivan')
    assert.equal(revoked.status, 0, revoked.stderr)
    assert.deepEqual((revoked.json as { revoked: string[] }).revoked, ['third'])
    assert.deepEqual(consentCli('list', '--user', 'ivan').json, [])
    // Nothing left: an empty answer, not an error.
    const none = consentCli('revoke', '--user', 'ivan')
    assert.equal(none.status, 0, none.stderr)
    assert.deepEqual((none.json as { revoked: string[] }).revoked, [])
  })

  it('shows third_party on clients, false by default, and refuses it without the code grant', () => {
    const shown = cli(['client', 'show', '--db', server.db, '--id', 'third'])
    assert.equal((shown.json as Record<string, unknown>).third_party, true)
    const web = cli(['client', 'show', '--db', server.db, '--id', 'web'])
    assert.equal((web.json as Record<string, unknown>).third_party, false)
    const refused = cli([
      ...['client', 'create', '--db', server.db, '--id', 'machine', '--third-party'],
      ...['--grant', 'client_credentials'],
    ])
    assert.notEqual(refused.status, 0)
    assert.equal(refused.stdout, '')
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr)
    assert.match(refused.stderr, /--third-party/)
  })

  it('refuses an unknown user or client in the CLI with one line on stderr', () => {
    for (const args of [
      ['list', '--user', 'nobody'],
      ['revoke', '--user', 'nobody'],
      ['list', '--user', 'alice', '--client', 'nope'],
      ['revoke', '--user', 'alice', '--client', 'nope'],
      ['list'],
    ]) {
      const res = consentCli(...args)
      assert.notEqual(res.status, 0, args.join(' '))
      assert.equal(res.stdout, '')
      assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr)
    }
  })

  it('works with a pushed request: the consent form carries a handle, the pushed parameters count', async () => {
    const p = pkce()
    const pushed = await request(`${server.url}/par`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(pushedOnly.client_id, pushedOnly.client_secret),
      },
      body: new URLSearchParams({
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'openid',
        state: 'st-par',
        code_challenge: p.challenge,
        code_challenge_method: 'S256',
      }).toString(),
    })
    assert.equal(pushed.status, 201, pushed.text)
    const browser = new Browser(server.url)
    const query = `/authorize?${new URLSearchParams({
      client_id: pushedOnly.client_id,
      request_uri: pushed.json.request_uri as string,
    }).toString()}`
    const page = await visit(browser, query, ALICE)
    assert.ok(isConsentPage(page), page.text.slice(0, 300))
    const fields = formFields(page.text)
    assert.ok(fields.pushed_request)
    // A widened scope in the fields is ignored: the stored parameters count.
    const q = redirected(
      await browser.postForm(formAction(page.text)!, { ...fields, scope: 'openid profile' }),
    )
    assert.equal(q.get('state'), 'st-par')
    const tokens = await redeem(pushedOnly, q.get('code')!, p.verifier)
    assert.equal(tokens.status, 200, tokens.text)
    assert.equal(tokens.json.scope, 'openid')
  })
})

describe('consent under an issuer with a path', () => {
  let server: TestServer
  let issuer: string
  let third: CreatedClient

  before(async () => {
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}/auth`
    server = await startServer({ port, args: ['--issuer', issuer] })
    third = createClient(
      server.db,
      'third',
      ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--third-party'],
      ...['--scope', 'openid'],
    )
    createUser(server.db, ALICE)
  })
  after(() => server.dispose())

  it('posts the consent form under the path and issues a code', async () => {
    const browser = new Browser(new URL(issuer).origin)
    const p = pkce()
    const query = authorizeQuery({
      clientId: third.client_id,
      redirectUri: REDIRECT,
      challenge: p.challenge,
      scope: 'openid',
      path: '/auth/authorize',
    })
    const login = await browser.get(query)
    assert.equal(login.status, 200)
    const page = await browser.postForm(formAction(login.text)!, {
      ...formFields(login.text),
      ...ALICE,
    })
    assert.ok(isConsentPage(page), page.text.slice(0, 300))
    assert.equal(formAction(page.text), '/auth/authorize/consent')
    const q = redirected(await browser.postForm(formAction(page.text)!, formFields(page.text)))
    assert.equal(q.get('iss'), issuer)
    const tokens = await request(`${issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(third.client_id, third.client_secret),
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: q.get('code')!,
        code_verifier: p.verifier,
        redirect_uri: REDIRECT,
      }).toString(),
    })
    assert.equal(tokens.status, 200, tokens.text)
  })
})
