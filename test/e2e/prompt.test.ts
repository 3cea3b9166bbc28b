/**
 * OpenID Connect Core §3.1.2.1 request parameters against a real server: `prompt` (none, login,
 * select_account; consent is in consent.test.ts), `max_age` and `login_hint`, driven by a browser
 * with cookies over HTTP. `prompt=none` never shows a page; `prompt=login`, `select_account` and an
 * old enough login show the login form even to a live login, and its POST signs in without looping.
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
  type AuthorizeParams,
} from '../helpers/browser.js'
import {
  createClient,
  createUser,
  sleep,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const ALICE = { username: 'alice', password: 'correct horse battery' }
const BOB = { username: 'bob', password: 'another horse battery' }

describe('prompt, max_age and login_hint (OIDC Core §3.1.2.1)', () => {
  let server: TestServer
  let web: CreatedClient
  let aliceId: string
  let bobId: string

  before(async () => {
    server = await startServer()
    web = createClient(
      server.db,
      'web',
      ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--scope', 'openid profile'],
    )
    aliceId = createUser(server.db, ALICE).id
    bobId = createUser(server.db, BOB).id
  })
  after(() => server.dispose())

  const params = (state = 'st'): AuthorizeParams => ({
    clientId: web.client_id,
    redirectUri: REDIRECT,
    challenge: pkce().challenge,
    scope: 'openid',
    state,
  })
  const withExtra = (p: AuthorizeParams, extra: Record<string, string>): string =>
    `${authorizeQuery(p)}&${new URLSearchParams(extra).toString()}`

  /** A browser signed in as alice. */
  async function signedIn(): Promise<Browser> {
    const browser = new Browser(server.url)
    const landed = await authorize(browser, params(), ALICE)
    assert.ok(landed.searchParams.has('code'))
    return browser
  }

  /** The redirect's query, asserting it is one (never a page). */
  function redirected(res: HttpResponse): URLSearchParams {
    assert.equal(res.status, 303, res.text.slice(0, 300))
    const location = res.headers.location
    assert.ok(location?.startsWith(REDIRECT), location)
    return new URL(location!).searchParams
  }

  /** Whose code it is: redeemed, the access token's `sub`. */
  async function subjectOf(code: string, verifier: string): Promise<string> {
    const res = await server.post(
      '/token',
      { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT },
      [web.client_id, web.client_secret],
    )
    assert.equal(res.status, 200, res.text)
    return decodeJwt(res.json.access_token as string).sub as string
  }

  it('answers prompt=none without a login with login_required, state and iss, and no page', async () => {
    const browser = new Browser(server.url)
    const q = redirected(await browser.get(withExtra(params('s-none'), { prompt: 'none' })))
    assert.equal(q.get('error'), 'login_required')
    assert.equal(q.get('state'), 's-none')
    assert.equal(q.get('iss'), server.url)
    assert.equal(q.get('code'), null)
  })

  it('gives a live login a code at once with prompt=none', async () => {
    const browser = await signedIn()
    const q = redirected(await browser.get(withExtra(params(), { prompt: 'none' })))
    assert.ok(q.get('code'))
  })

  it('shows the login form to a live login with prompt=login, and its POST signs in at once', async () => {
    const browser = await signedIn()
    const verifier = pkce()
    const p = { ...params(), challenge: verifier.challenge }
    const page = await browser.get(withExtra(p, { prompt: 'login' }))
    assert.equal(page.status, 200)
    const fields = formFields(page.text)
    assert.equal(fields.prompt, 'login', 'the request is carried, prompt included')
    const res = await browser.postForm(formAction(page.text)!, { ...fields, ...ALICE })
    const q = redirected(res)
    assert.equal(await subjectOf(q.get('code')!, verifier.verifier), aliceId)
    // And the new login serves a plain request at once.
    assert.ok(redirected(await browser.get(authorizeQuery(params()))).get('code'))
  })

  it('lets select_account sign in as someone else: the form is shown, the code is theirs', async () => {
    const browser = await signedIn()
    const verifier = pkce()
    const page = await browser.get(
      withExtra({ ...params(), challenge: verifier.challenge }, { prompt: 'select_account' }),
    )
    assert.equal(page.status, 200)
    const res = await browser.postForm(formAction(page.text)!, { ...formFields(page.text), ...BOB })
    assert.equal(await subjectOf(redirected(res).get('code')!, verifier.verifier), bobId)
  })

  it('refuses a wrong password on the prompt=login form with the form again, not a code', async () => {
    const browser = await signedIn()
    const page = await browser.get(withExtra(params(), { prompt: 'login' }))
    const res = await browser.postForm(formAction(page.text)!, {
      ...formFields(page.text),
      username: ALICE.username,
      password: 'wrong password entirely',
    })
    assert.equal(res.status, 401)
    assert.equal(res.headers.location, undefined)
  })

  it('makes max_age=0 sign in again, and prompt=none with max_age=0 login_required', async () => {
    const browser = await signedIn()
    const page = await browser.get(withExtra(params(), { max_age: '0' }))
    assert.equal(page.status, 200)
    assert.match(page.text, /name="password"/)
    const res = await browser.postForm(formAction(page.text)!, {
      ...formFields(page.text),
      ...ALICE,
    })
    assert.ok(redirected(res).get('code'), 'the POST does not apply max_age again')
    const q = redirected(await browser.get(withExtra(params(), { prompt: 'none', max_age: '0' })))
    assert.equal(q.get('error'), 'login_required')
  })

  it('lets a login younger than max_age through, and makes an older one sign in again', async () => {
    const browser = await signedIn()
    assert.ok(redirected(await browser.get(withExtra(params(), { max_age: '3600' }))).get('code'))
    // The login is at least two seconds old after this: older than max_age=1, whatever the load.
    await sleep(2100)
    const page = await browser.get(withExtra(params(), { max_age: '1' }))
    assert.equal(page.status, 200)
    assert.match(page.text, /name="password"/)
    const q = redirected(await browser.get(withExtra(params(), { max_age: '1', prompt: 'none' })))
    assert.equal(q.get('error'), 'login_required')
  })

  it('fills in the username from login_hint, escaped, and focuses the password', async () => {
    const browser = new Browser(server.url)
    const hint = 'al"ice<b>&'
    const page = await browser.get(withExtra(params(), { login_hint: hint }))
    assert.equal(page.status, 200)
    assert.equal(formFields(page.text).username, hint)
    assert.ok(!page.text.includes('<b>&'), 'the hint is escaped')
    assert.match(page.text, /name="password"[^>]*autofocus/)
    // The hint only fills in the form: the password decides who signs in.
    const res = await browser.postForm(formAction(page.text)!, {
      ...formFields(page.text),
      ...ALICE,
    })
    assert.ok(redirected(res).get('code'))
  })

  it('refuses malformed prompt, max_age and login_hint with invalid_request at the redirect URI', async () => {
    const browser = await signedIn()
    const cases: Record<string, string>[] = [
      { prompt: 'none login' },
      { prompt: 'none consent' },
      { prompt: 'bogus' },
      { prompt: 'login Login' },
      { max_age: '-1' },
      { max_age: '1.5' },
      { max_age: 'soon' },
      { max_age: '12345678901' },
      { login_hint: 'x'.repeat(256) },
    ]
    for (const extra of cases) {
      const q = redirected(await browser.get(withExtra(params('s-bad'), extra)))
      assert.equal(q.get('error'), 'invalid_request', JSON.stringify(extra))
      assert.equal(q.get('state'), 's-bad')
      assert.equal(q.get('iss'), server.url)
    }
    // Accepted: several values, repeated spaces, an empty prompt, a 255-character hint.
    const accepted: Record<string, string>[] = [
      { prompt: 'login  consent' },
      { prompt: '' },
      { login_hint: 'x'.repeat(255) },
    ]
    for (const extra of accepted) {
      const res = await browser.get(withExtra(params(), extra))
      assert.notEqual(
        res.headers.location && new URL(res.headers.location).searchParams.get('error'),
        'invalid_request',
        JSON.stringify(extra),
      )
    }
  })
})
