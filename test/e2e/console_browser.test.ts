/**
 * The web console as an operator meets it, in a real headless Chromium (Playwright driving Debian's
 * Chromium): signing in through Latchkey's own login page with the console's public client, then
 * clients, users, sessions, keys, the live revocation feed and the audit log; a user without the
 * admin role gets "not an administrator" and no data. No page may break its Content Security Policy,
 * and every form control must have an accessible name.
 *
 * With `LATCHKEY_CONSOLE_SCREENSHOTS=DIR`, the main views are also saved as PNGs into DIR
 * (`scripts/console_screenshots.mjs` runs it so for the docs).
 *
 * Chromium is required, not optional: CI installs it, and without it this test fails with
 * instructions rather than skipping.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core'
import { authorize, Browser, pkce } from '../helpers/browser.js'
import { launchChromium } from '../helpers/chromium.js'
import {
  cli,
  createUser,
  createWebClient,
  freePort,
  request,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const ROOT = { username: 'root', password: 'correct horse battery staple' }
const BOB = { username: 'bob', password: 'bob has a long password' }
const REDIRECT = 'http://127.0.0.1:9/callback'
const SHOTS = process.env.LATCHKEY_CONSOLE_SCREENSHOTS

interface Watched {
  /** CSP violations and script errors seen on every page of the context. */
  problems: string[]
  /** Requests that went to the admin API. */
  adminCalls: string[]
}

/** Records CSP violations (console and `securitypolicyviolation`), script errors and API calls. */
async function watch(context: BrowserContext): Promise<Watched> {
  const watched: Watched = { problems: [], adminCalls: [] }
  // Injected by the browser itself, not by the page: the page's CSP does not apply to it.
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => {
      console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI)
    })`,
  })
  context.on('page', (page) => {
    page.on('console', (m) => {
      if (/Content.Security.Policy|CSP violation|Refused/i.test(m.text())) {
        watched.problems.push(m.text())
      }
    })
    page.on('pageerror', (e) => watched.problems.push(`script error: ${e.message}`))
    page.on('request', (r) => {
      if (r.url().includes('/admin/v1/')) watched.adminCalls.push(`${r.method()} ${r.url()}`)
    })
  })
  return watched
}

/**
 * Run in the page (as a string: the test is compiled without the DOM's types): every input, select,
 * textarea and button without an accessible name — a `<label>`, `aria-label`, `aria-labelledby`,
 * or (a button) its text.
 */
const UNLABELLED = `(() => {
  const text = (el) => (el?.textContent ?? '').trim() !== ''
  const missing = []
  for (const el of document.querySelectorAll('input, select, textarea, button')) {
    if (el.type === 'hidden') continue
    const named =
      (el.getAttribute('aria-label') ?? '').trim() !== '' ||
      (el.getAttribute('aria-labelledby') ?? '')
        .split(/\\s+/)
        .some((id) => text(document.getElementById(id))) ||
      [...(el.labels ?? [])].some(text) ||
      (el.tagName === 'BUTTON' && text(el))
    if (!named) missing.push(el.outerHTML.slice(0, 120))
  }
  return missing
})()`

function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(UNLABELLED)
}

describe('the web console in a real browser', () => {
  let server: TestServer
  let chromium: Chromium
  let context: BrowserContext
  let page: Page
  let watched: Watched
  let rootId: string
  let web: CreatedClient

  /** The views' names in the navigation, by route. */
  const VIEWS = {
    clients: 'Clients',
    users: 'Users',
    sessions: 'Sessions',
    keys: 'Keys',
    revocations: 'Revocation feed',
    audit: 'Audit log',
  } as const

  async function open(view: keyof typeof VIEWS): Promise<void> {
    await page.getByRole('navigation').getByRole('link', { name: VIEWS[view] }).click()
    await page.getByRole('heading', { level: 1 }).first().waitFor()
    assert.deepEqual(await unlabelled(page), [], `every control of ${view} has a name`)
  }

  async function shot(name: string): Promise<void> {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `console-${name}.png`) })
  }

  /** Confirms the pending destructive action in the console's dialog. */
  async function confirm(label: string): Promise<void> {
    const dialog = page.getByRole('dialog')
    await dialog.waitFor()
    await dialog.getByRole('button', { name: label }).click()
    await dialog.waitFor({ state: 'hidden' })
  }

  /** The status region says `text`. */
  async function said(text: string | RegExp): Promise<void> {
    await page.getByRole('status').filter({ hasText: text }).waitFor({ timeout: 10_000 })
  }

  async function signIn(p: Page, who: { username: string; password: string }): Promise<void> {
    await p.goto(`${server.url}/console`)
    await p.getByRole('button', { name: 'Sign in with Latchkey' }).click()
    await p.getByLabel('Username').fill(who.username)
    await p.getByLabel('Password').fill(who.password)
    await p.getByRole('button', { name: 'Continue' }).click()
    // Back at the console, the code redeemed and gone from the address bar.
    await p.getByRole('button', { name: 'Sign out' }).waitFor()
    assert.equal(new URL(p.url()).search, '')
  }

  /**
   * `secret` of the client `reports` is refused at the token endpoint within 3 s: a node keeps a
   * client for up to a second after a change (SECURITY.md, "The admin API").
   */
  async function refusedSoon(secret: string): Promise<void> {
    const deadline = Date.now() + 3_000
    for (;;) {
      const res = await server.post('/token', { grant_type: 'client_credentials' }, [
        'reports',
        secret,
      ])
      if (res.status === 401) return
      assert.ok(Date.now() < deadline, `still ${res.status}`)
      await sleep(100)
    }
  }

  /** Bob signs in at `web` over plain HTTP: his refresh token (a session of his). */
  async function bobSession(): Promise<string> {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: 'web', redirectUri: REDIRECT, challenge: p.challenge },
      BOB,
    )
    const res = await server.post(
      '/token',
      {
        grant_type: 'authorization_code',
        code: landed.searchParams.get('code') ?? '',
        redirect_uri: REDIRECT,
        code_verifier: p.verifier,
      },
      [web.client_id, web.client_secret],
    )
    assert.equal(res.status, 200, res.text)
    return res.json.refresh_token as string
  }

  before(async () => {
    server = await startServer()
    const root = cli(
      ['user', 'create', '--db', server.db, '--username', ROOT.username, '--admin'],
      {
        input: ROOT.password + '\n',
      },
    )
    assert.equal(root.status, 0, root.stderr)
    rootId = (root.json as { id: string }).id
    createUser(server.db, BOB)
    web = createWebClient(server.db, REDIRECT)
    chromium = await launchChromium()
    context = await chromium.newContext({ viewport: { width: 1280, height: 800 } })
    context.setDefaultTimeout(10_000)
    watched = await watch(context)
    page = await context.newPage()
  })

  after(async () => {
    await chromium?.close()
    await server?.dispose()
  })

  it('signs the admin in through the login page and lists the clients', async () => {
    await page.goto(`${server.url}/console/`)
    assert.deepEqual(await unlabelled(page), [])
    await signIn(page, ROOT)
    await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor()
    await page.getByRole('banner').getByText('Signed in as root').waitFor()
    const table = page.getByRole('table')
    await table.getByRole('rowheader', { name: 'latchkey-console' }).waitFor()
    assert.deepEqual(await unlabelled(page), [])
    // The tokens stay in this tab's sessionStorage: no cookie of the console's, nothing in localStorage.
    const stored = await page.evaluate<{ local: number; session: string[] }>(
      '({ local: localStorage.length, session: Object.keys(sessionStorage) })',
    )
    assert.deepEqual(stored, { local: 0, session: ['latchkey-console.session'] })
    // The navigation works from the keyboard, and the new view takes the focus.
    await page.getByRole('link', { name: 'Users' }).focus()
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor()
    await page.waitForFunction("document.activeElement?.id === 'main'")
  })

  it('registers a client and shows its secret once, rotates it, and deletes the client', async () => {
    await open('clients')
    await page.getByLabel('Client ID').fill('reports')
    await page.getByLabel('Scope', { exact: true }).fill('read write')
    await page.getByRole('button', { name: 'Register client' }).click()
    await said('Client reports created.')
    const secret = await page.getByLabel('Client secret').inputValue()
    assert.match(secret, /^[A-Za-z0-9_-]{30,}$/)
    await shot('client-secret')
    // The secret works at the token endpoint.
    let res = await server.post('/token', { grant_type: 'client_credentials' }, ['reports', secret])
    assert.equal(res.status, 200, res.text)
    await page.getByRole('button', { name: 'Done: hide the secret' }).click()
    assert.equal(await page.getByLabel('Client secret').count(), 0)

    await page.getByRole('button', { name: 'Show client reports' }).click()
    await page.getByRole('heading', { name: 'Client reports' }).waitFor()
    assert.match(await page.locator('.details').innerText(), /read write/)

    await page.getByRole('button', { name: 'Rotate the secret of client reports' }).click()
    await confirm('Rotate secret')
    await said('The secret of reports was rotated.')
    const rotated = await page.getByLabel('Client secret').inputValue()
    assert.notEqual(rotated, secret)
    await refusedSoon(secret)
    res = await server.post('/token', { grant_type: 'client_credentials' }, ['reports', rotated])
    assert.equal(res.status, 200)

    // The dialog opens with Cancel focused, Escape closes it, Cancel keeps it; Delete removes it.
    await page.getByRole('button', { name: 'Delete client reports' }).click()
    await page.getByRole('dialog').waitFor()
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'confirm-cancel')
    await page.keyboard.press('Escape')
    await page.getByRole('dialog').waitFor({ state: 'hidden' })
    await page.getByRole('button', { name: 'Delete client reports' }).click()
    await confirm('Cancel')
    assert.equal(await page.getByRole('rowheader', { name: 'reports', exact: true }).count(), 1)
    await page.getByRole('button', { name: 'Delete client reports' }).click()
    await confirm('Delete client')
    await said('Client reports deleted.')
    await page
      .getByRole('rowheader', { name: 'reports', exact: true })
      .waitFor({ state: 'detached' })
    await refusedSoon(rotated)
  })

  it('adds a user, unlocks them, makes them admin and back, and deletes them', async () => {
    await open('users')
    await page.getByLabel('Username').fill('carol')
    await page.getByLabel('Password').fill('carol picks a long one')
    await page.getByLabel('Email').fill('carol@example.com')
    await page.getByRole('button', { name: 'Add user' }).click()
    await said('User carol created.')
    await page.getByRole('rowheader', { name: 'carol' }).waitFor()
    await shot('users')
    await page.getByRole('button', { name: 'Unlock carol' }).click()
    await said('carol is unlocked: failed logins are forgiven.')
    await page.getByRole('button', { name: 'Give carol the admin role' }).click()
    await said('carol is now an administrator.')
    await page.getByRole('button', { name: 'Remove the admin role of carol' }).click()
    await confirm('Remove admin role')
    await said('carol is no longer an administrator.')
    await page.getByRole('button', { name: 'Delete user carol' }).click()
    await confirm('Delete user')
    await said('User carol deleted.')
    await page.getByRole('rowheader', { name: 'carol' }).waitFor({ state: 'detached' })
    const users = cli(['user', 'list', '--db', server.db]).json as { username: string }[]
    assert.deepEqual(users.map((u) => u.username).sort(), ['bob', 'root'])
  })

  it("lists a user's sessions and revokes one: its refresh token is refused at once", async () => {
    const refresh = await bobSession()
    await open('users')
    await page.getByRole('button', { name: 'Sessions of bob' }).click()
    await page.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor()
    const revoke = page.getByRole('button', { name: /^Revoke session / })
    await revoke.first().waitFor()
    assert.equal(await revoke.count(), 1)
    assert.deepEqual(await unlabelled(page), [])
    await shot('sessions')
    await revoke.click()
    await confirm('Revoke session')
    await said(/^Session .* revoked\.$/)
    await page.getByText('No live sessions.').waitFor()
    const introspected = await server.post('/introspect', { token: refresh }, [
      web.client_id,
      web.client_secret,
    ])
    assert.deepEqual(introspected.json, { active: false })
  })

  it('rotates the signing key and retires the old one', async () => {
    type Key = { kid: string; alg: string; retired_at: string | null }
    const keys = () => cli(['keys', 'list', '--db', server.db]).json as Key[]
    const old = keys().find((k) => k.alg === 'ES256')!
    await open('keys')
    await page.getByLabel('Algorithm').selectOption('ES256')
    await page.getByLabel('Signs after (seconds)').fill('0')
    await page.getByRole('button', { name: 'Add a new key' }).click()
    await said(/^Key .* \(ES256\) added\.$/)
    const added = keys().filter((k) => k.alg === 'ES256' && k.kid !== old.kid)
    assert.equal(added.length, 1)
    await page.getByRole('rowheader', { name: added[0]!.kid }).waitFor()
    await shot('keys')
    // As an operator would: retire the old key once the server signs with the new one (its key
    // ring reloads every second), else the server could still sign with the key just retired.
    const deadline = Date.now() + 5_000
    while (!(await server.get('/.well-known/jwks.json')).text.includes(added[0]!.kid)) {
      assert.ok(Date.now() < deadline, 'the new key reached the JWKS')
      await sleep(100)
    }
    await sleep(1_100)
    await page.getByRole('button', { name: `Retire key ${old.kid}` }).click()
    await confirm('Retire key')
    await said(`Key ${old.kid} retired.`)
    assert.notEqual(keys().find((k) => k.kid === old.kid)?.retired_at, null)
    // The console's own token may have been signed by the retired key: it carries on (refreshing).
    await open('clients')
    await page.getByRole('rowheader', { name: 'latchkey-console' }).waitFor()
  })

  it('shows a revocation made elsewhere in the live feed within seconds', async () => {
    await open('revocations')
    await page.getByText(/Following the feed|No live revocation events yet/).waitFor()
    await bobSession()
    const sessions = cli(['session', 'list', '--db', server.db, '--user', 'bob']).json as {
      id: string
    }[]
    assert.equal(sessions.length, 1)
    const started = Date.now()
    const revoked = cli(['session', 'revoke', '--db', server.db, '--id', sessions[0]!.id])
    assert.equal(revoked.status, 0, revoked.stderr)
    const feed = page.getByRole('list', { name: 'Latest events' })
    await feed.getByText(sessions[0]!.id).waitFor({ timeout: 5_000 })
    assert.ok(Date.now() - started < 5_000)
    assert.equal(await feed.getAttribute('aria-live'), 'polite')
    await shot('feed')
  })

  it("lists the console's actions in the audit log under the admin's actor, filtered", async () => {
    await open('audit')
    await page.getByLabel('Actor').fill(`api:user:${rootId}`)
    await page.getByRole('button', { name: 'Filter' }).click()
    await said('Audit log filtered.')
    const text = await page.getByRole('table').innerText()
    for (const kind of [
      'client.created',
      'client.secret_rotated',
      'client.deleted',
      'user.created',
      'user.unlocked',
      'user.updated',
      'user.deleted',
      'session.revoked',
      'key.rotated',
      'key.retired',
    ]) {
      assert.ok(text.includes(kind), `${kind} in the audit log`)
    }
    // Every row is the admin's.
    const actors = await page.locator('tbody tr td:nth-child(3)').allInnerTexts()
    assert.ok(actors.length >= 10)
    assert.ok(actors.every((a) => a === `api:user:${rootId}`))
    await page.getByLabel('Kind').fill('key.retired')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.getByRole('table').getByText('1 event, newest first').waitFor()
    // A time window after every event: nothing.
    await page.getByLabel('From').fill('2099-01-01T00:00')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.getByRole('table').getByText('No events match.').waitFor()
    await page.getByLabel('From').fill('')
    await page.getByLabel('Kind').fill('')
    await page.getByLabel('Actor').fill('')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page
      .getByRole('table')
      .getByText(/events, newest first/)
      .waitFor()
    await shot('audit')
  })

  it('signs out through the logout endpoint and comes back signed out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in with Latchkey' }).waitFor()
    assert.equal(await page.evaluate<number>('sessionStorage.length'), 0)
    // The login at the server ended too: signing in asks for the password again.
    await page.getByRole('button', { name: 'Sign in with Latchkey' }).click()
    await page.getByLabel('Password').waitFor()
  })

  it('tells a user without the admin role that they are not an administrator, and shows no data', async () => {
    const other = await chromium.newContext({ viewport: { width: 1280, height: 800 } })
    const bobWatched = await watch(other)
    const p = await other.newPage()
    await signIn(p, BOB)
    await p.getByRole('heading', { name: 'Not an administrator' }).waitFor()
    assert.match(await p.locator('main').innerText(), /not an administrator/)
    assert.equal(await p.getByRole('navigation').isVisible(), false)
    assert.equal(await p.getByRole('table').count(), 0)
    assert.deepEqual(bobWatched.adminCalls, [])
    await p.getByRole('button', { name: 'Sign out' }).waitFor()
    if (SHOTS) await p.screenshot({ path: join(SHOTS, 'console-not-admin.png') })
    assert.deepEqual(bobWatched.problems, [])
    await other.close()
  })

  it('broke no Content Security Policy on any page', () => {
    assert.deepEqual(watched.problems, [])
  })
})

describe('the console over HTTP', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.dispose())

  it('serves its page with a strict CSP, an ETag and no referrer', async () => {
    const moved = await server.get('/console')
    assert.equal(moved.status, 308)
    assert.equal(moved.headers.location, '/console/')
    const page = await server.get('/console/')
    assert.equal(page.status, 200)
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
    const csp = String(page.headers['content-security-policy'])
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ]) {
      assert.ok(csp.includes(directive), `${directive} in ${csp}`)
    }
    assert.doesNotMatch(csp, /unsafe|data:|\*/)
    assert.equal(page.headers['referrer-policy'], 'no-referrer')
    assert.equal(page.headers['x-content-type-options'], 'nosniff')
    // No inline script or style in the page itself.
    assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i)
    const etag = page.headers.etag
    assert.ok(etag)
    const again = await request(`${server.url}/console/`, { headers: { 'if-none-match': etag } })
    assert.equal(again.status, 304)
    const script = await server.get('/console/app.js')
    assert.equal(script.status, 200)
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8')
    const style = await server.get('/console/console.css')
    assert.equal(style.headers['content-type'], 'text/css; charset=utf-8')
  })

  it('answers 404 for any file it does not hold, and never reads outside its folder', async () => {
    for (const path of [
      '/console/nope.js',
      '/console/tsconfig.json',
      '/console/APP.JS',
      '/console/..%2f..%2fpackage.json',
      '/console/%2e%2e%2fconsole_client.ts',
      '/console/app.js%00.css',
      '/console/.hidden.js',
      '/console/sub/app.js',
    ]) {
      const res = await server.get(path)
      assert.equal(res.status, 404, path)
    }
    // Nothing else came with the API routes.
    assert.equal((await server.get('/console/index.html')).status, 200)
  })

  it('registers its client at start, once, and prints nothing new on the start-up lines', async () => {
    const listed = cli(['client', 'show', '--db', server.db, '--id', 'latchkey-console'])
    assert.equal(listed.status, 0, listed.stderr)
    const client = listed.json as Record<string, unknown>
    assert.equal(client.token_endpoint_auth_method, 'none')
    assert.deepEqual(client.redirect_uris, [`${server.url}/console/`])
    assert.equal(client.third_party, false)
    // A restart finds it in place.
    await server.stop()
    const restarted = await startServer({ dir: server.dir, port: server.port })
    try {
      const created = (cli(['audit', 'list', '--db', server.db, '--kind', 'client.created']).json ??
        []) as { subject: string }[]
      assert.deepEqual(
        created.map((e) => e.subject),
        ['latchkey-console'],
      )
    } finally {
      await restarted.stop()
    }
  })
})

describe('the console under an issuer with a path', () => {
  let server: TestServer
  before(async () => {
    const port = await freePort()
    server = await startServer({ port, args: ['--issuer', `http://127.0.0.1:${port}/auth`] })
  })
  after(() => server.dispose())

  it('is served under the path, and its client returns there', async () => {
    assert.equal((await server.get('/auth/console/')).status, 200)
    assert.equal((await server.get('/auth/console')).headers.location, '/auth/console/')
    assert.equal((await server.get('/console/')).status, 404)
    const shown = cli(['client', 'show', '--db', server.db, '--id', 'latchkey-console'])
    assert.deepEqual((shown.json as { redirect_uris: string[] }).redirect_uris, [
      `${server.url}/auth/console/`,
    ])
  })
})
