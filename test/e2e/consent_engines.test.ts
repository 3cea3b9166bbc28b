/**
 * Consent for a third-party client on each storage engine, with an in-process server: sign in, the
 * consent page, approve, the code redeemed for exactly the approved scopes, the consent remembered;
 * then withdrawn through the programmatic API (the operation behind `consent revoke`), after which
 * the refresh token is refused and the page is shown again.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  createClient,
  createUser,
  listConsents,
  openStore,
  revokeConsents,
  startServer,
  type Store,
} from 'latchkey'
import { authorizeQuery, Browser, formAction, formFields, pkce } from '../helpers/browser.js'
import { basic, request, tempDir, type HttpResponse } from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }

function engineSuite(
  engine: string,
  url: () => Promise<{ db: string; done: () => Promise<void> }>,
) {
  describe(`consent on ${engine}`, () => {
    let store: Store
    let server: Awaited<ReturnType<typeof startServer>>
    let done: () => Promise<void>
    let secret: string

    before(async () => {
      const target = await url()
      done = target.done
      store = await openStore(target.db)
      server = await startServer({ db: store, port: 0 })
      const created = await createClient(store, {
        id: 'photos',
        grant: ['authorization_code', 'refresh_token'],
        redirectUri: [REDIRECT],
        scope: 'openid profile email',
        thirdParty: true,
      })
      assert.equal(created.third_party, true)
      secret = created.client_secret!
      await createUser(store, USER)
    })
    after(async () => {
      await server?.close()
      await store?.close()
      await done?.()
    })

    const token = (form: Record<string, string>): Promise<HttpResponse> =>
      request(server.url + '/token', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('photos', secret),
        },
        body: new URLSearchParams(form).toString(),
      })

    it('asks once, issues exactly the approved scopes, and asks again once withdrawn', async () => {
      const browser = new Browser(server.url)
      const p = pkce()
      const query = authorizeQuery({
        clientId: 'photos',
        redirectUri: REDIRECT,
        challenge: p.challenge,
        scope: 'openid profile',
      })
      const login = await browser.get(query)
      assert.equal(login.status, 200)
      const page = await browser.postForm(formAction(login.text)!, {
        ...formFields(login.text),
        ...USER,
      })
      assert.equal(page.status, 200, page.text.slice(0, 300))
      assert.match(page.text, /<code>profile<\/code>/)
      const approved = await browser.postForm(formAction(page.text)!, formFields(page.text))
      assert.equal(approved.status, 303, approved.text.slice(0, 300))
      const code = new URL(approved.headers.location!).searchParams.get('code')!
      const tokens = await token({
        grant_type: 'authorization_code',
        code,
        code_verifier: p.verifier,
        redirect_uri: REDIRECT,
      })
      assert.equal(tokens.status, 200, tokens.text)
      assert.equal(tokens.json.scope, 'openid profile')

      const listed = await listConsents(store, { user: USER.username })
      assert.deepEqual(
        listed.map((c) => [c.client_id, c.scope]),
        [['photos', 'openid profile']],
      )
      const again = await browser.get(query)
      assert.equal(again.status, 303, 'remembered')

      const revoked = await revokeConsents(store, { user: USER.username, client: 'photos' })
      assert.deepEqual(revoked.revoked, ['photos'])
      assert.equal(revoked.sessions.length, 1)
      const refreshed = await token({
        grant_type: 'refresh_token',
        refresh_token: tokens.json.refresh_token as string,
      })
      assert.equal(refreshed.status, 400)
      assert.equal(refreshed.json.error, 'invalid_grant')
      const asked = await browser.get(query)
      assert.equal(asked.status, 200)
      assert.doesNotMatch(asked.text, /name="password"/)
      assert.match(asked.text, /<code>openid<\/code>/)
    })
  })
}

engineSuite('SQLite', () => {
  const { dir, cleanup } = tempDir()
  return Promise.resolve({
    db: `sqlite:${join(dir, 'consent.db')}`,
    done: () => Promise.resolve(cleanup()),
  })
})

engineSuite('PostgreSQL', async () => {
  const database: TestDatabase = await createTestDatabase()
  return { db: database.url, done: () => database.drop() }
})
