/**
 * OpenID Connect as a person meets it, in a real headless Chromium (Playwright driving Debian's
 * Chromium): a third-party client's login, its consent page (approve, and cancel → `access_denied`),
 * the ID token the code brings (checked by openid-client), and RP-initiated logout, after which the
 * browser must sign in again. No page may break its Content Security Policy.
 *
 * Chromium is required, not optional: CI installs it, and without it this test fails with
 * instructions rather than skipping.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import * as oidc from 'openid-client'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import {
  createClient,
  createUser,
  freePort,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const USER = { username: 'alice', password: 'correct horse battery' }

describe('OpenID Connect in a real browser: login, consent, logout', () => {
  let server: TestServer
  let browser: Browser
  let rp: Server
  let app: CreatedClient
  let redirectUri: string
  let signedOutUri: string

  before(async () => {
    server = await startServer()
    const port = await freePort()
    redirectUri = `http://127.0.0.1:${port}/callback`
    signedOutUri = `http://127.0.0.1:${port}/signed-out`
    rp = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><title>Client</title><p>Back at the client.</p>')
    })
    await new Promise<void>((resolve) => rp.listen(port, '127.0.0.1', resolve))
    app = createClient(
      server.db,
      'gallery',
      ...['--grant', 'authorization_code', '--grant', 'refresh_token', '--third-party'],
      ...['--redirect-uri', redirectUri, '--scope', 'openid profile email photos'],
      ...['--post-logout-redirect-uri', signedOutUri, '--display-name', 'Gallery'],
    )
    createUser(server.db, USER)
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await new Promise<void>((resolve) => (rp ? rp.close(() => resolve()) : resolve()))
    await server?.dispose()
  })

  function discover(): Promise<oidc.Configuration> {
    return oidc.discovery(new URL(server.url), 'gallery', app.client_secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    })
  }

  /** Records every CSP complaint the page logs. */
  function watchCsp(page: Page): string[] {
    const violations: string[] = []
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused/i.test(m.text())) violations.push(m.text())
    })
    return violations
  }

  async function authorizationUrl(
    config: oidc.Configuration,
    scope: string,
  ): Promise<{ url: URL; verifier: string; nonce: string; state: string }> {
    const verifier = oidc.randomPKCECodeVerifier()
    const nonce = oidc.randomNonce()
    const state = oidc.randomState()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    })
    return { url, verifier, nonce, state }
  }

  async function signInOnPage(page: Page): Promise<void> {
    await page.getByLabel('Username').fill(USER.username)
    await page.getByLabel('Password').fill(USER.password)
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button').click()])
  }

  it('signs in, asks consent once, issues an ID token, and logs out', async () => {
    const config = await discover()
    const context = await browser.newContext()
    const page = await context.newPage()
    const violations = watchCsp(page)

    const first = await authorizationUrl(config, 'openid email photos')
    await page.goto(first.url.href)
    await signInOnPage(page)

    // The consent page: the client's name and every scope it asks for, approve and cancel.
    const text = await page.locator('body').innerText()
    assert.match(text, /Gallery/)
    for (const scope of ['email', 'photos']) assert.match(text, new RegExp(scope))
    assert.equal(await page.locator('form[method="post"]').count(), 1)
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(redirectUri)),
      page.getByRole('button', { name: /allow|approve|continue/i }).click(),
    ])
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: first.verifier,
      expectedNonce: first.nonce,
      expectedState: first.state,
      idTokenExpected: true,
    })
    assert.equal(tokens.scope, 'openid email photos')
    const sub = tokens.claims()?.sub
    assert.ok(sub)

    // Remembered: the same request goes straight back to the client.
    const second = await authorizationUrl(config, 'openid email')
    await page.goto(second.url.href)
    await page.waitForURL((u) => u.href.startsWith(redirectUri))

    // Logout with the ID token as hint: back to the client's registered address, with the state.
    const endSession = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: signedOutUri,
      state: 'bye',
    })
    await page.goto(endSession.href)
    await page.waitForURL((u) => u.href.startsWith(signedOutUri))
    assert.equal(new URL(page.url()).searchParams.get('state'), 'bye')

    // Signed out: the next request shows the login form again.
    const third = await authorizationUrl(config, 'openid')
    await page.goto(third.url.href)
    assert.equal(await page.getByLabel('Password').count(), 1)
    assert.deepEqual(violations, [], 'no CSP violations on any page')
    await context.close()
  })

  it('sends access_denied to the client when the user cancels consent', async () => {
    const config = await discover()
    const context = await browser.newContext()
    const page = await context.newPage()
    const request = await authorizationUrl(config, 'openid profile')
    await page.goto(request.url.href)
    await signInOnPage(page)
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(redirectUri)),
      page.getByRole('button', { name: /cancel|deny/i }).click(),
    ])
    const landed = new URL(page.url())
    assert.equal(landed.searchParams.get('error'), 'access_denied')
    assert.equal(landed.searchParams.get('state'), request.state)
    assert.equal(landed.searchParams.get('iss'), server.url)
    await context.close()
  })
})
