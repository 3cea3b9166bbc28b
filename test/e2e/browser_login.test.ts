/**
 * The login as a person does it, in a real headless browser: Playwright driving Debian's Chromium opens
 * the authorization URL, fills in the form and submits it; the browser must land on the client's
 * redirect URI with a code and the state. With LATCHKEY_SCREENSHOT=1 it also saves the login page to
 * docs/login-page.png.
 *
 * Chromium is required, not optional: CI installs it (`apt-get install chromium`), and without it this
 * test fails with instructions rather than skipping.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { authorizeQuery, pkce } from '../helpers/browser.js'
import {
  createClient,
  createUser,
  freePort,
  startServer,
  type TestServer,
} from '../helpers/server.js'

const SCREENSHOT = fileURLToPath(new URL('../../../docs/login-page.png', import.meta.url))
const USER = { username: 'alice', password: 'correct horse battery' }

/** The one browser global used here (the project compiles without the DOM library). */
interface Window {
  getComputedStyle(element: unknown): { borderRadius: string }
}

describe('login in a real browser', () => {
  let server: TestServer
  let browser: Browser
  let callback: Server
  let redirectUri: string
  /** Requests the client's callback received. */
  const received: URL[] = []

  before(async () => {
    server = await startServer()
    const port = await freePort()
    redirectUri = `http://127.0.0.1:${port}/callback`
    callback = createServer((req, res) => {
      const url = new URL(req.url ?? '/', redirectUri)
      if (url.pathname === '/callback') received.push(url)
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }) // favicon too: no matter
      res.end('<!doctype html><title>Signed in</title><p>Signed in.</p>')
    })
    await new Promise<void>((resolve) => callback.listen(port, '127.0.0.1', resolve))
    createClient(
      server.db,
      'photo-app',
      ...['--grant', 'authorization_code', '--grant', 'refresh_token'],
      ...['--redirect-uri', redirectUri, '--scope', 'openid photos'],
    )
    createUser(server.db, USER)
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await new Promise<void>((resolve) => (callback ? callback.close(() => resolve()) : resolve()))
    await server?.dispose()
  })

  it('signs in through the page and lands on the redirect URI with a code and the state', async () => {
    const context = await browser.newContext({ viewport: { width: 960, height: 720 } })
    const page = await context.newPage()
    const state = 'state-42 "quoted" & <angled>'
    const url =
      server.url +
      authorizeQuery({
        clientId: 'photo-app',
        redirectUri,
        challenge: pkce().challenge,
        state,
        scope: 'openid photos',
      })
    const violations: string[] = []
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused/i.test(m.text())) violations.push(m.text())
    })

    const shown = await page.goto(url)
    assert.equal(shown?.status(), 200)
    assert.equal(await page.title(), 'Sign in · Latchkey')
    // The labels name the fields, as assistive technology reads them.
    const username = page.getByLabel('Username')
    const password = page.getByLabel('Password')
    assert.equal(await username.getAttribute('autocomplete'), 'username')
    assert.equal(await password.getAttribute('autocomplete'), 'current-password')
    assert.match((await page.locator('body').innerText()) ?? '', /photo-app/)
    // The stylesheet applied (CSP allowed it): the card is laid out, not raw HTML.
    const radius = await page
      .locator('.card')
      .evaluate((el) => (globalThis as unknown as Window).getComputedStyle(el).borderRadius)
    assert.equal(radius, '14px')
    if (process.env.LATCHKEY_SCREENSHOT === '1') {
      mkdirSync(dirname(SCREENSHOT), { recursive: true })
      await page.screenshot({ path: SCREENSHOT })
    }

    // A wrong password first: the message appears on the form.
    await username.fill(USER.username)
    await password.fill('not the password')
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button').click()])
    await page.waitForSelector('[role="alert"]')
    assert.match(await page.getByRole('alert').innerText(), /incorrect/i)
    assert.equal(await page.getByLabel('Username').inputValue(), USER.username)

    await page.getByLabel('Password').fill(USER.password)
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(redirectUri)),
      page.getByRole('button').click(),
    ])
    const landed = new URL(page.url())
    assert.equal(landed.origin + landed.pathname, redirectUri)
    assert.match(landed.searchParams.get('code') ?? '', /^[A-Za-z0-9_-]{43}$/)
    assert.equal(landed.searchParams.get('state'), state)
    assert.equal(landed.searchParams.get('iss'), server.url)
    assert.equal(received.at(-1)?.searchParams.get('code'), landed.searchParams.get('code'))
    assert.deepEqual(violations, [], 'no CSP violations (form-action allowed the redirect)')

    // The browser is remembered: the next authorization goes straight through.
    await page.goto(
      server.url +
        authorizeQuery({ clientId: 'photo-app', redirectUri, challenge: pkce().challenge }),
    )
    const again = new URL(page.url())
    assert.equal(again.origin + again.pathname, redirectUri)
    assert.notEqual(again.searchParams.get('code'), landed.searchParams.get('code'))
    await context.close()
  })
})
