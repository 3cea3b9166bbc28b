/**
 * The authorization endpoint and its login page, against a real server (RFC 6749 §4.1, RFC 7636,
 * RFC 9207, RFC 9700; SECURITY.md "Protocol abuse", "Credentials", "Input"): which errors show a page
 * and which go back to the client, PKCE, state and iss, the login form with its CSRF check, throttling,
 * the login cookie, security headers and HTML escaping.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { Browser, formFields, pkce } from '../helpers/browser.js'
import {
  cli,
  createClient,
  createUser,
  freePort,
  request,
  sleep,
  startServer,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
/** A registered URI with a query of its own, which every answer must keep. */
const REDIRECT_WITH_QUERY = 'https://app.example/cb?tenant=a%20b&x=1'
const LOOPBACK_REDIRECT = 'http://127.0.0.1:8765/callback'
const ALICE = { username: 'alice', password: 'correct horse battery' }
const BOB = { username: 'bob', password: 'tr0ub4dor&3 plus' }
/** `web` as the throttling and https servers register it. */
const WEB_CLIENT = [
  '--grant',
  'authorization_code',
  '--redirect-uri',
  REDIRECT,
  '--scope',
  'openid orders',
]
const HOSTILE = `"><script>alert('x')</script><img src=x onerror=alert(1)>`

interface CookieSet {
  value: string
  /** Attribute names in lower case, with their values (`''` for flags). */
  attributes: Map<string, string>
}

/** The cookies a response sets, by name. */
function setCookies(res: HttpResponse): Map<string, CookieSet> {
  const out = new Map<string, CookieSet>()
  for (const line of res.headers['set-cookie'] ?? []) {
    const [pair = '', ...attrs] = line.split(';').map((s) => s.trim())
    const eq = pair.indexOf('=')
    const attributes = new Map<string, string>()
    for (const a of attrs) {
      const i = a.indexOf('=')
      if (i < 0) attributes.set(a.toLowerCase(), '')
      else attributes.set(a.slice(0, i).toLowerCase(), a.slice(i + 1))
    }
    out.set(pair.slice(0, eq), { value: pair.slice(eq + 1), attributes })
  }
  return out
}

/** A valid authorization request for `web`, with `changes` applied (`undefined` drops a parameter). */
function query(changes: Record<string, string | undefined> = {}, extra = ''): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: 'web',
    redirect_uri: REDIRECT,
    scope: 'openid orders',
    state: 'st-123',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...changes,
  }
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v)
  return `/authorize?${q.toString()}${extra}`
}

function assertHtml(res: HttpResponse, status: number): void {
  assert.equal(res.status, status, res.text.slice(0, 500))
  assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/)
  assert.equal(res.headers.location, undefined, 'no redirect')
  assert.match(String(res.headers['cache-control']), /no-store/)
  assert.doesNotMatch(res.text, /\bat [\w.<>]+ \(|node_modules|Error:/, 'no stack trace')
}

/** An error page: 400, HTML, and no redirect of any kind. */
function assertErrorPage(res: HttpResponse, label?: string): void {
  assert.equal(res.status, 400, `${label ?? ''}: ${res.status} ${res.headers.location ?? ''}`)
  assertHtml(res, 400)
  assert.doesNotMatch(res.text, /<form/i, label)
}

describe('authorization endpoint', () => {
  let server: TestServer

  /** An error sent back to the client at `redirectUri`, with the state and the issuer. */
  function assertRedirectError(
    res: HttpResponse,
    error: string,
    state: string | null = 'st-123',
    redirectUri = REDIRECT,
  ): void {
    assert.equal(res.status, 303, `${error}: ${res.status} ${res.text.slice(0, 300)}`)
    const location = String(res.headers.location)
    assert.ok(location.startsWith(redirectUri + (redirectUri.includes('?') ? '&' : '?')), location)
    const url = new URL(location)
    assert.equal(url.searchParams.get('error'), error)
    assert.notEqual(url.searchParams.get('error_description') ?? '', '')
    assert.equal(url.searchParams.get('state'), state)
    assert.equal(url.searchParams.get('iss'), server.url)
    assert.equal(url.searchParams.get('code'), null)
    assert.match(String(res.headers['cache-control']), /no-store/)
    assert.equal(res.headers['referrer-policy'], 'no-referrer')
  }

  /** Opens the login page in `browser` and posts it with `changes` to its fields. */
  async function submit(
    browser: Browser,
    credentials: { username: string; password: string },
    path = query(),
    changes: Record<string, string | undefined> = {},
  ): Promise<HttpResponse> {
    const page = await browser.get(path)
    assert.equal(page.status, 200, page.text.slice(0, 300))
    const fields: Record<string, string | undefined> = {
      ...formFields(page.text),
      ...credentials,
      ...changes,
    }
    const form: Record<string, string> = {}
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) form[k] = v
    return browser.postForm('/authorize', form)
  }

  before(async () => {
    server = await startServer()
    const grants = ['--grant', 'authorization_code', '--grant', 'refresh_token']
    createClient(
      server.db,
      'web',
      ...grants,
      ...['--redirect-uri', REDIRECT, '--redirect-uri', REDIRECT_WITH_QUERY],
      ...['--redirect-uri', LOOPBACK_REDIRECT, '--scope', 'openid profile orders'],
    )
    createClient(server.db, 'other', ...grants, '--redirect-uri', 'https://other.example/cb')
    createClient(
      server.db,
      'machine',
      ...['--grant', 'client_credentials', '--redirect-uri', 'https://machine.example/cb'],
    )
    for (const u of [ALICE, BOB, { username: 'carol', password: 'carol password 1' }]) {
      createUser(server.db, u)
    }
  })
  after(() => server.dispose())

  it('is announced in the metadata with code, S256 and iss support', async () => {
    const meta = (await server.get('/.well-known/oauth-authorization-server')).json
    assert.equal(meta.authorization_endpoint, `${server.url}/authorize`)
    assert.deepEqual(meta.response_types_supported, ['code'])
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256'])
    assert.equal(meta.authorization_response_iss_parameter_supported, true)
  })

  describe('until the client and redirect URI are valid: an error page, never a redirect', () => {
    it('for a missing, repeated or unknown client_id', async () => {
      assertErrorPage(await server.get(query({ client_id: undefined })), 'missing')
      assertErrorPage(await server.get(query({ client_id: '' })), 'empty')
      assertErrorPage(await server.get(query({ client_id: 'nobody' })), 'unknown')
      assertErrorPage(await server.get(query({}, '&client_id=other')), 'repeated')
      assertErrorPage(await server.get(query({ client_id: 'x'.repeat(5000) })), 'long')
    })

    it('for a missing or repeated redirect_uri', async () => {
      assertErrorPage(await server.get(query({ redirect_uri: undefined })), 'missing')
      assertErrorPage(await server.get(query({ redirect_uri: '' })), 'empty')
      const again = `&redirect_uri=${encodeURIComponent(REDIRECT)}`
      assertErrorPage(await server.get(query({}, again)), 'same value twice')
      const evil = `&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`
      assertErrorPage(await server.get(query({}, evil)), 'second value')
    })

    it('for a redirect_uri that is not byte-for-byte a registered one', async () => {
      const variants: Record<string, string> = {
        'trailing slash': 'https://app.example/callback/',
        'host case': 'https://APP.example/callback',
        'path case': 'https://app.example/Callback',
        'scheme case': 'HTTPS://app.example/callback',
        'extra query': 'https://app.example/callback?x=1',
        'empty query': 'https://app.example/callback?',
        'query changed': 'https://app.example/cb?tenant=a%20b&x=2',
        'query reordered': 'https://app.example/cb?x=1&tenant=a%20b',
        'query re-encoded': 'https://app.example/cb?tenant=a+b&x=1',
        userinfo: 'https://app.example@evil.example/callback',
        'userinfo kept host': 'https://evil@app.example/callback',
        fragment: 'https://app.example/callback#frag',
        'empty fragment': 'https://app.example/callback#',
        'scheme change': 'http://app.example/callback',
        'explicit default port': 'https://app.example:443/callback',
        'other port': 'https://app.example:8443/callback',
        'percent-encoded path': 'https://app.example/call%62ack',
        'dot segment': 'https://app.example/x/../callback',
        subdomain: 'https://evil.app.example/callback',
        'suffix host': 'https://app.example.evil.example/callback',
        'longer path': 'https://app.example/callback/evil',
        'another client’s uri': 'https://other.example/cb',
        'loopback other port': 'http://127.0.0.1:8766/callback',
        'loopback localhost': 'http://localhost:8765/callback',
        'javascript scheme': 'javascript:alert(1)//https://app.example/callback',
        'leading space': ' https://app.example/callback',
        'trailing space': 'https://app.example/callback ',
      }
      for (const [label, uri] of Object.entries(variants)) {
        const res = await server.get(query({ redirect_uri: uri }))
        assertErrorPage(res, label)
        // This issuer is loopback, so the page lists the URI sent for the developer (escaped text,
        // see login_client_branding.test.ts); it is never a link or an attribute value.
        assert.doesNotMatch(res.text, /<a\b|="[^"]*evil/i, `${label}: the URI is not a link`)
      }
    })

    it('even when the request is also wrong in ways that would otherwise be redirected', async () => {
      const res = await server.get(
        query({ redirect_uri: 'https://evil.example/cb', response_type: 'token' }),
      )
      assertErrorPage(res)
    })

    it('for parameters with control characters or invalid UTF-8', async () => {
      assertErrorPage(await server.get(`${query()}&x=%00`))
      assertErrorPage(await server.get(query({ state: 'a\r\nSet-Cookie: x=y' })))
      assertErrorPage(await server.get(`${query()}&state2=%ff`))
    })
  })

  describe('once client and redirect URI are valid: errors go back to the client', () => {
    it('refuses a missing or unsupported response_type', async () => {
      assertRedirectError(await server.get(query({ response_type: undefined })), 'invalid_request')
      for (const rt of ['token', 'id_token', 'code token', 'CODE', 'code ']) {
        const res = await server.get(query({ response_type: rt }))
        assertRedirectError(res, 'unsupported_response_type')
      }
    })

    it('refuses a client not registered for the authorization_code grant', async () => {
      const res = await server.get(
        query({
          client_id: 'machine',
          redirect_uri: 'https://machine.example/cb',
          scope: undefined,
        }),
      )
      assertRedirectError(res, 'unauthorized_client', 'st-123', 'https://machine.example/cb')
    })

    it('requires PKCE with S256: no challenge, no method, plain or anything else is refused', async () => {
      const cases: Record<string, string | undefined>[] = [
        { code_challenge: undefined },
        { code_challenge: '' },
        { code_challenge: undefined, code_challenge_method: undefined },
        { code_challenge_method: undefined },
        { code_challenge_method: '' },
        { code_challenge_method: 'plain' },
        { code_challenge_method: 's256' },
        { code_challenge_method: 'S512' },
        { code_challenge: 'a'.repeat(42) },
        { code_challenge: 'a'.repeat(44) },
        { code_challenge: 'a'.repeat(128) },
        { code_challenge: `${'a'.repeat(42)}=` },
        { code_challenge: `${'a'.repeat(42)}+` },
        { code_challenge: `${'a'.repeat(42)}/` },
        { code_challenge: `${'a'.repeat(42)}.` },
      ]
      for (const c of cases) {
        const res = await server.get(query(c))
        assertRedirectError(res, 'invalid_request')
      }
    })

    it('refuses a scope the client may not have, or a malformed one', async () => {
      assertRedirectError(await server.get(query({ scope: 'openid admin' })), 'invalid_scope')
      assertRedirectError(await server.get(query({ scope: '' })), 'invalid_scope')
      assertRedirectError(await server.get(query({ scope: 'openid  orders' })), 'invalid_scope')
      assertRedirectError(await server.get(query({ scope: 'a"b' })), 'invalid_scope')
    })

    it('refuses a repeated parameter (RFC 6749 §3.1), without echoing an ambiguous state', async () => {
      assertRedirectError(await server.get(query({}, '&scope=openid')), 'invalid_request')
      assertRedirectError(
        await server.get(query({}, `&code_challenge=${pkce().challenge}`)),
        'invalid_request',
      )
      assertRedirectError(await server.get(query({}, '&state=other')), 'invalid_request', null)
    })

    it('echoes state exactly, and leaves it out when none was sent', async () => {
      const state = `a b&c=d+e%25 é "<'>`
      assertRedirectError(
        await server.get(query({ state, response_type: 'token' })),
        'unsupported_response_type',
        state,
      )
      assertRedirectError(
        await server.get(query({ state: undefined, response_type: 'token' })),
        'unsupported_response_type',
        null,
      )
      assertRedirectError(
        await server.get(query({ state: '', response_type: 'token' })),
        'unsupported_response_type',
        '',
      )
    })

    it('keeps the query of a registered redirect URI and appends to it', async () => {
      const res = await server.get(query({ redirect_uri: REDIRECT_WITH_QUERY, scope: 'admin' }))
      assertRedirectError(res, 'invalid_scope', 'st-123', REDIRECT_WITH_QUERY)
      const url = new URL(String(res.headers.location))
      assert.equal(url.searchParams.get('tenant'), 'a b')
      assert.equal(url.searchParams.get('x'), '1')
    })
  })

  describe('the login page', () => {
    it('is a POST form with username and password, CSRF-protected, for the named client', async () => {
      const browser = new Browser(server.url)
      const res = await browser.get(query())
      assertHtml(res, 200)
      const html = res.text
      assert.match(html, /<html lang="en">/)
      assert.match(html, /<form method="post" action="\/authorize">/)
      assert.match(html, /<label for="username">/)
      assert.match(html, /<label for="password">/)
      assert.match(
        html,
        /<input type="text" id="username" name="username"[^>]*autocomplete="username"/,
      )
      assert.match(
        html,
        /<input type="password" id="password" name="password" autocomplete="current-password"/,
      )
      assert.match(html, /<span class="client">web<\/span>/)
      assert.doesNotMatch(html, /<script/i, 'no script at all: it works without JavaScript')
      const fields = formFields(html)
      assert.equal(fields.client_id, 'web')
      assert.equal(fields.redirect_uri, REDIRECT)
      assert.equal(fields.code_challenge_method, 'S256')
      assert.equal(fields.state, 'st-123')
      assert.match(fields.csrf_token ?? '', /^[A-Za-z0-9_-]{43}$/)
      assert.equal(fields.password, '', 'no password is ever put in the page')
    })

    it('forbids framing and caching, and allows no script, only its own stylesheet', async () => {
      const res = await server.get(query())
      assert.equal(res.headers['x-frame-options'], 'DENY')
      assert.equal(res.headers['referrer-policy'], 'no-referrer')
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.match(String(res.headers['cache-control']), /no-store/)
      const csp = String(res.headers['content-security-policy'])
      const directives = new Map(
        csp.split(';').map((d) => {
          const [name = '', ...values] = d.trim().split(/\s+/)
          return [name, values.join(' ')] as const
        }),
      )
      assert.equal(directives.get('default-src'), "'none'")
      assert.equal(directives.get('frame-ancestors'), "'none'")
      assert.equal(directives.get('base-uri'), "'none'")
      assert.equal(directives.get('form-action'), "'self' https://app.example")
      assert.equal(directives.has('script-src'), false)
      // The style-src hash is the hash of the page's one <style> element.
      const style = /<style>([\s\S]*?)<\/style>/.exec(res.text)?.[1] ?? ''
      const hash = createHash('sha256').update(style).digest('base64')
      assert.equal(directives.get('style-src'), `'sha256-${hash}'`)
      assert.equal((res.text.match(/<style/g) ?? []).length, 1)
      assert.doesNotMatch(res.text, /style="/, 'no inline style attributes (CSP would block them)')
    })

    it('allows the form to be redirected to a loopback client in its CSP', async () => {
      const res = await server.get(query({ redirect_uri: LOOPBACK_REDIRECT }))
      assert.match(
        String(res.headers['content-security-policy']),
        /form-action 'self' http:\/\/127\.0\.0\.1:8765;/,
      )
    })

    it('sets an HttpOnly, SameSite=Strict CSRF cookie (no Secure and no __Host- on loopback http)', async () => {
      const res = await server.get(query())
      const cookie = setCookies(res).get('latchkey_csrf')
      assert.ok(cookie, 'CSRF cookie set')
      assert.match(cookie.value, /^[A-Za-z0-9_-]{43}$/)
      assert.equal(cookie.attributes.get('path'), '/')
      assert.ok(cookie.attributes.has('httponly'))
      assert.equal(cookie.attributes.get('samesite'), 'Strict')
      assert.equal(cookie.attributes.has('secure'), false)
      assert.equal(cookie.attributes.has('domain'), false)
      // The form holds a value derived from the cookie, not the cookie itself.
      assert.notEqual(formFields(res.text).csrf_token, cookie.value)
    })

    it('escapes everything it shows: state, username, and never reflects an unknown client id', async () => {
      const browser = new Browser(server.url)
      const res = await submit(
        browser,
        { username: HOSTILE, password: 'wrong password' },
        query({ state: HOSTILE }),
      )
      assertHtml(res, 401)
      assert.ok(!res.text.includes(HOSTILE), 'raw value not in the page')
      assert.doesNotMatch(res.text, /<script/i)
      assert.doesNotMatch(res.text, /<img/i)
      const escaped = HOSTILE.replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;')
        .replace(/'/g, '&#39;')
      assert.ok(res.text.includes(`name="state" value="${escaped}"`), 'state escaped')
      assert.ok(res.text.includes(`name="username" value="${escaped}"`), 'username escaped')
      // The values survive the round trip intact.
      assert.equal(formFields(res.text).state, HOSTILE)

      const page = await server.get(query({ client_id: HOSTILE }))
      assertErrorPage(page)
      assert.ok(!page.text.includes(HOSTILE))
      assert.doesNotMatch(page.text, /<script/i)
    })
  })

  describe('signing in', () => {
    it('sends the browser back with a single code, the state and iss, and remembers it with a cookie', async () => {
      const browser = new Browser(server.url)
      const state = `s "<'>&+%20 é`
      const res = await submit(browser, ALICE, query({ state }))
      assert.equal(res.status, 303, res.text.slice(0, 500))
      assert.match(String(res.headers['cache-control']), /no-store/)
      const location = String(res.headers.location)
      assert.ok(location.startsWith(`${REDIRECT}?`), location)
      const url = new URL(location)
      assert.deepEqual([...url.searchParams.keys()], ['code', 'state', 'iss'])
      const code = url.searchParams.get('code') ?? ''
      assert.match(code, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
      assert.equal(url.searchParams.get('state'), state)
      assert.equal(url.searchParams.get('iss'), server.url)

      const login = setCookies(res).get('latchkey_login')
      assert.ok(login, 'login cookie set')
      assert.match(login.value, /^[A-Za-z0-9_-]{43}$/)
      assert.ok(login.attributes.has('httponly'))
      assert.equal(login.attributes.get('samesite'), 'Lax')
      assert.equal(login.attributes.get('path'), '/')
      assert.equal(login.attributes.has('secure'), false, 'plain-http loopback issuer')
      assert.equal(login.attributes.get('max-age'), String(12 * 3600))

      // Only hashes reach the database: neither the code nor the login cookie is in its files.
      const path = server.db.slice('sqlite:'.length)
      for (const file of [path, `${path}-wal`]) {
        if (!existsSync(file)) continue
        const bytes = readFileSync(file)
        assert.equal(bytes.includes(code), false, `code in ${file}`)
        assert.equal(bytes.includes(login.value), false, `login cookie in ${file}`)
      }
    })

    it('skips the form while the browser is logged in, with a fresh code each time, for any client', async () => {
      const browser = new Browser(server.url)
      const first = await submit(browser, ALICE)
      assert.equal(first.status, 303)
      const codes = new Set([new URL(String(first.headers.location)).searchParams.get('code')])
      for (const [client, redirect] of [
        ['web', REDIRECT],
        ['web', REDIRECT_WITH_QUERY],
        ['other', 'https://other.example/cb'],
      ] as const) {
        const res = await browser.get(
          query({ client_id: client, redirect_uri: redirect, scope: undefined, state: 'again' }),
        )
        assert.equal(res.status, 303, `${client}: ${res.text.slice(0, 200)}`)
        const location = String(res.headers.location)
        assert.ok(location.startsWith(`${redirect}${redirect.includes('?') ? '&' : '?'}code=`))
        const url = new URL(location)
        assert.equal(url.searchParams.get('state'), 'again')
        assert.equal(url.searchParams.get('iss'), server.url)
        codes.add(url.searchParams.get('code'))
      }
      assert.equal(codes.size, 4, 'every code is new')
      // The request is still checked first: a logged-in browser gets no code for a bad request.
      const bad = await browser.get(query({ code_challenge_method: 'plain' }))
      assertRedirectError(bad, 'invalid_request')
      assertErrorPage(await browser.get(query({ redirect_uri: 'https://evil.example/cb' })))
    })

    it('shows the form to a browser without a login, or with an unknown or malformed cookie', async () => {
      assert.equal((await server.get(query())).status, 200)
      for (const cookie of ['A'.repeat(43), 'junk', '', `${'A'.repeat(42)}%00`]) {
        const res = await fetch(`${server.url}${query()}`, {
          headers: { cookie: `latchkey_login=${cookie}` },
          redirect: 'manual',
        })
        assert.equal(res.status, 200, cookie)
      }
    })

    it('does not issue a code on HEAD, even to a logged-in browser', async () => {
      const login = setCookies(await submit(new Browser(server.url), ALICE)).get('latchkey_login')
      assert.ok(login)
      const res = await fetch(`${server.url}${query()}`, {
        method: 'HEAD',
        headers: { cookie: `latchkey_login=${login.value}` },
        redirect: 'manual',
      })
      assert.notEqual(res.status, 303)
      assert.equal(res.headers.get('location'), null)
    })

    it('shows a failed login as a message on the form, with 401, and sets no login cookie', async () => {
      for (const credentials of [
        { username: ALICE.username, password: 'not the password' },
        { username: 'nobody-here', password: ALICE.password },
        { username: ALICE.username, password: ALICE.password.toUpperCase() },
        { username: 'ALICE', password: ALICE.password },
        { username: ALICE.username, password: 'x'.repeat(5000) },
      ]) {
        const browser = new Browser(server.url)
        const res = await submit(browser, credentials)
        assertHtml(res, 401)
        assert.match(res.text, /<p class="alert" role="alert" id="form-message">[^<]+<\/p>/)
        assert.match(res.text, /<form method="post"/, 'the form again')
        assert.equal(setCookies(res).has('latchkey_login'), false)
        const fields = formFields(res.text)
        assert.equal(fields.username, credentials.username, 'username kept')
        assert.equal(fields.password, '', 'password not kept')
        assert.equal(fields.client_id, 'web')
        // The re-rendered form works: the right password now gets through.
        const retry = await browser.postForm('/authorize', { ...fields, ...ALICE })
        assert.equal(retry.status, 303, 'retry from the re-rendered form')
      }
    })

    it('answers an empty username or password with a message, without checking anything', async () => {
      const res = await submit(new Browser(server.url), { username: ALICE.username, password: '' })
      assertHtml(res, 400)
      assert.match(res.text, /role="alert"/)
    })

    it('refuses a POST without the CSRF token, with a wrong one, or without the CSRF cookie', async () => {
      const noField = await submit(new Browser(server.url), ALICE, query(), {
        csrf_token: undefined,
      })
      const wrongField = await submit(new Browser(server.url), ALICE, query(), {
        csrf_token: 'A'.repeat(43),
      })
      const junkField = await submit(new Browser(server.url), ALICE, query(), {
        csrf_token: '<script>',
      })
      // A page read by one browser, posted by another (an attacker's page posting its own token).
      const page = await new Browser(server.url).get(query())
      const noCookie = await new Browser(server.url).postForm('/authorize', {
        ...formFields(page.text),
        ...ALICE,
      })
      for (const [label, res] of Object.entries({ noField, wrongField, junkField, noCookie })) {
        assertHtml(res, 403)
        assert.equal(setCookies(res).has('latchkey_login'), false, label)
        assert.match(res.text, /role="alert"/, label)
        assert.match(res.text, /<form method="post"/, label)
      }
      // The refused browser gets a fresh form that works.
      const browser = new Browser(server.url)
      const refused = await submit(browser, ALICE, query(), { csrf_token: undefined })
      assert.equal(refused.status, 403)
      const retry = await browser.postForm('/authorize', { ...formFields(refused.text), ...ALICE })
      assert.equal(retry.status, 303)
    })

    it('checks the whole request again on POST: the hidden fields are not trusted', async () => {
      // Each change, and what it gets: 'page' (an error page) or the error redirected to the client.
      const tampered: [Record<string, string | undefined>, string][] = [
        [{ redirect_uri: 'https://evil.example/cb' }, 'page'],
        [{ redirect_uri: undefined }, 'page'],
        [{ client_id: 'nobody' }, 'page'],
        [{ client_id: 'other' }, 'page'],
        [{ client_id: undefined }, 'page'],
        [{ code_challenge_method: 'plain' }, 'invalid_request'],
        [{ code_challenge: undefined }, 'invalid_request'],
        [{ code_challenge: 'short' }, 'invalid_request'],
        [{ response_type: 'token' }, 'unsupported_response_type'],
        [{ scope: 'openid admin' }, 'invalid_scope'],
      ]
      for (const [changes, expected] of tampered) {
        const browser = new Browser(server.url)
        const res = await submit(browser, ALICE, query(), changes)
        if (expected === 'page') assertErrorPage(res, JSON.stringify(changes))
        else assertRedirectError(res, expected)
        assert.equal(setCookies(res).has('latchkey_login'), false, JSON.stringify(changes))
      }
    })

    it('refuses a POST with a repeated parameter with an error page', async () => {
      const browser = new Browser(server.url)
      const page = await browser.get(query())
      const body =
        new URLSearchParams({ ...formFields(page.text), ...ALICE }).toString() +
        '&redirect_uri=' +
        encodeURIComponent('https://evil.example/cb')
      const res = await fetch(`${server.url}/authorize`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: cookieHeader(page),
        },
        body,
        redirect: 'manual',
      })
      assert.equal(res.status, 400)
      assert.equal(res.headers.get('location'), null)
      assert.match(String(res.headers.get('content-type')), /^text\/html/)
    })

    it('answers a POST it cannot read with an error page, not JSON or a stack trace', async () => {
      const res = await fetch(`${server.url}/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"username":"alice"}',
        redirect: 'manual',
      })
      assert.equal(res.status, 415)
      assert.match(String(res.headers.get('content-type')), /^text\/html/)
      assert.match(String(res.headers.get('content-security-policy')), /frame-ancestors 'none'/)
    })

    it('forgets the browser login of a deleted user', async () => {
      const browser = new Browser(server.url)
      const first = await submit(browser, { username: 'carol', password: 'carol password 1' })
      assert.equal(first.status, 303)
      assert.equal((await browser.get(query())).status, 303, 'logged in')
      const deleted = cli(['user', 'delete', '--db', server.db, '--username', 'carol'])
      assert.equal(deleted.status, 0, deleted.stderr)
      const after = await browser.get(query())
      assert.equal(after.status, 200, 'the form again: the login ended with the user')
    })
  })
})

/** The Cookie header a browser would send after `res`. */
function cookieHeader(res: HttpResponse): string {
  return [...setCookies(res)].map(([k, v]) => `${k}=${v.value}`).join('; ')
}

describe('login throttling', () => {
  const PER_USER = 3
  const PER_ADDRESS = 5
  const WINDOW = 4
  let server: TestServer

  before(async () => {
    server = await startServer({
      env: {
        LATCHKEY_LOGIN_FAILURES_PER_USER: String(PER_USER),
        LATCHKEY_LOGIN_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
        LATCHKEY_LOGIN_FAILURE_WINDOW: String(WINDOW),
      },
    })
    createClient(server.db, 'web', ...WEB_CLIENT)
    for (const u of ['alice', 'bob', 'dave', 'erin']) {
      const r = cli(['user', 'create', '--db', server.db, '--username', u], {
        input: `${u} password 123\n`,
      })
      assert.equal(r.status, 0, r.stderr)
    }
  })
  after(() => server.dispose())

  async function attempt(from: string, username: string, password: string): Promise<HttpResponse> {
    const browser = new Browser(server.url, from)
    const page = await browser.get(query())
    assert.equal(page.status, 200)
    return browser.postForm('/authorize', { ...formFields(page.text), username, password })
  }

  function assertThrottled(res: HttpResponse, label: string): void {
    assertHtml(res, 429)
    const retryAfter = Number(res.headers['retry-after'])
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= WINDOW, label)
    assert.match(res.text, /role="alert"[^>]*>[^<]*\d+ seconds?/, label)
    assert.equal(setCookies(res).has('latchkey_login'), false, label)
  }

  it('throttles a username attacked from any address, even with the right password, but not others', async () => {
    for (let i = 0; i < PER_USER; i++) {
      const res = await attempt(`127.0.0.${10 + i}`, 'alice', 'wrong guess')
      assert.equal(res.status, 401, `failure ${i + 1}`)
    }
    assertThrottled(await attempt('127.0.0.20', 'alice', 'alice password 123'), 'right password')
    assertThrottled(await attempt('127.0.0.21', 'alice', 'wrong guess'), 'another address')
    // The addresses and other users are not throttled.
    assert.equal((await attempt('127.0.0.20', 'bob', 'bob password 123')).status, 303)
  })

  it('throttles an address spraying many usernames, but not the same users elsewhere', async () => {
    const sprayer = '127.0.0.30'
    for (let i = 0; i < PER_ADDRESS; i++) {
      const res = await attempt(sprayer, `user${i}`, 'password1')
      assert.equal(res.status, 401, `failure ${i + 1}`)
    }
    assertThrottled(await attempt(sprayer, 'dave', 'dave password 123'), 'sprayer, right password')
    assert.equal((await attempt('127.0.0.31', 'dave', 'dave password 123')).status, 303)
  })

  it('lets at most the limit through when guesses arrive in parallel', async () => {
    const browsers = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const browser = new Browser(server.url, `127.0.0.${40 + i}`)
        const page = await browser.get(query())
        return { browser, fields: formFields(page.text) }
      }),
    )
    const results = await Promise.all(
      browsers.map(({ browser, fields }) =>
        browser.postForm('/authorize', { ...fields, username: 'erin', password: 'guess guess' }),
      ),
    )
    const statuses = results.map((r) => r.status).sort()
    assert.equal(statuses.filter((s) => s === 401).length, PER_USER, statuses.join(','))
    assert.equal(statuses.filter((s) => s === 429).length, 10 - PER_USER, statuses.join(','))
  })

  it('lets the user in again once the window has passed', async () => {
    const res = await attempt('127.0.0.50', 'alice', 'alice password 123')
    if (res.status === 429) await sleep(Number(res.headers['retry-after']) * 1000 + 200)
    assert.equal((await attempt('127.0.0.50', 'alice', 'alice password 123')).status, 303)
  })
})

describe('login page behind an https issuer', () => {
  let server: TestServer

  before(async () => {
    const port = await freePort()
    server = await startServer({
      port,
      args: ['--issuer', `https://127.0.0.1:${port}`],
      env: {
        LATCHKEY_LOGIN_FAILURES_PER_USER: '10000',
        LATCHKEY_LOGIN_FAILURES_PER_ADDRESS: '10000',
      },
    })
    createClient(server.db, 'web', ...WEB_CLIENT)
    const r = cli(['user', 'create', '--db', server.db, '--username', 'alice'], {
      input: `${ALICE.password}\n`,
    })
    assert.equal(r.status, 0, r.stderr)
  })
  after(() => server.dispose())

  /** Every cookie of `res` is `__Host-` prefixed, Secure, HttpOnly, `Path=/` and has no Domain. */
  function assertHostCookies(res: HttpResponse, label: string): void {
    for (const [name, cookie] of setCookies(res)) {
      assert.ok(name.startsWith('__Host-'), `${label}: ${name} is __Host- prefixed`)
      assert.ok(cookie.attributes.has('secure'), `${label}: ${name} Secure`)
      assert.ok(cookie.attributes.has('httponly'), `${label}: ${name} HttpOnly`)
      assert.equal(cookie.attributes.get('path'), '/', `${label}: ${name} Path=/`)
      assert.equal(cookie.attributes.has('domain'), false, `${label}: ${name} without Domain`)
    }
  }

  it('gives every cookie it sets, the login cookie included, the __Host- prefix and Secure', async () => {
    const browser = new Browser(server.url)
    const page = await browser.get(query())
    assertHostCookies(page, 'form')
    const csrf = setCookies(page).get('__Host-latchkey_csrf')
    assert.ok(csrf, 'prefixed CSRF cookie')
    assert.equal(csrf.attributes.get('samesite'), 'Strict')
    const res = await browser.postForm('/authorize', { ...formFields(page.text), ...ALICE })
    assert.equal(res.status, 303, res.text.slice(0, 300))
    assert.equal(
      new URL(String(res.headers.location)).searchParams.get('iss'),
      server.url.replace('http:', 'https:'),
    )
    assertHostCookies(res, 'login')
    const login = setCookies(res).get('__Host-latchkey_login')
    assert.ok(login, 'prefixed login cookie')
    assert.equal(login.attributes.get('samesite'), 'Lax')
    assert.equal(setCookies(res).has('latchkey_login'), false, 'no unprefixed login cookie')
    // A refused form (expired CSRF) sets a fresh cookie: prefixed too.
    const refused = await new Browser(server.url).postForm('/authorize', {
      ...formFields(page.text),
      ...ALICE,
    })
    assert.equal(refused.status, 403)
    assertHostCookies(refused, 'fresh CSRF cookie')
    assert.ok(setCookies(refused).has('__Host-latchkey_csrf'))
  })

  it('ignores a planted unprefixed login or CSRF cookie', async () => {
    const page = await new Browser(server.url).get(query())
    const csrf = setCookies(page).get('__Host-latchkey_csrf')
    assert.ok(csrf)
    const login = await request(`${server.url}/authorize`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `__Host-latchkey_csrf=${csrf.value}`,
      },
      body: new URLSearchParams({ ...formFields(page.text), ...ALICE }).toString(),
    })
    assert.equal(login.status, 303, login.text.slice(0, 300))
    const value = setCookies(login).get('__Host-latchkey_login')?.value
    assert.ok(value)
    // The same live login, under the name a sibling subdomain could set: not logged in.
    const planted = await request(server.url + query(), {
      headers: { cookie: `latchkey_login=${value}` },
    })
    assert.equal(planted.status, 200, 'the login form, not a code')
    assert.match(planted.text, /<form/)
    // Under its own name the login is live.
    const own = await request(server.url + query(), {
      headers: { cookie: `__Host-latchkey_login=${value}` },
    })
    assert.equal(own.status, 303)
    // Nor is an unprefixed CSRF cookie taken for the form's.
    const csrfPlanted = await request(`${server.url}/authorize`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `latchkey_csrf=${csrf.value}`,
      },
      body: new URLSearchParams({ ...formFields(page.text), ...ALICE }).toString(),
    })
    assert.equal(csrfPlanted.status, 403)
  })

  it('does not let unauthenticated callers make it hash without limit: 503 past its queue', async () => {
    const browsers = await Promise.all(
      Array.from({ length: 120 }, async () => {
        const browser = new Browser(server.url)
        const page = await browser.get(query())
        return { browser, fields: formFields(page.text) }
      }),
    )
    const results = await Promise.all(
      browsers.map(({ browser, fields }, i) =>
        browser.postForm('/authorize', { ...fields, username: `n${i}`, password: 'guess guess' }),
      ),
    )
    const busy = results.filter((r) => r.status === 503)
    for (const r of results) assert.ok(r.status === 401 || r.status === 503, String(r.status))
    assert.ok(busy.length > 0, 'some attempts were turned away')
    for (const r of busy) {
      assertHtml(r, 503)
      assert.equal(r.headers['retry-after'], '1')
      assert.match(r.text, /role="alert"/)
    }
  })
})
