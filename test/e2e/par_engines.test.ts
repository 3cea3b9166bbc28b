/**
 * Pushed authorization requests (RFC 9126) on each storage engine, with an in-process server on a
 * store whose `takePushed` sees the clock moved forward on demand: a request pushed now is refused
 * once its `expires_in` has passed, without waiting for it. Also the whole flow (push, sign in,
 * replay refused, code redeemed) on SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createClient, createUser, openStore, startServer, type Store } from 'latchkey'
import { Browser, formAction, formFields, pkce } from '../helpers/browser.js'
import { request, tempDir, type HttpResponse } from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }

/** `store` with `takePushed` told that `shift()` more seconds have passed than the server thinks. */
function shiftedStore(store: Store, shift: () => number): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'takePushed') {
        return (hash: string, clientId: string, now: number) =>
          target.takePushed(hash, clientId, now + shift())
      }
      const value: unknown = Reflect.get(target, name, receiver)
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value
    },
  })
}

function engineSuite(
  engine: string,
  url: () => Promise<{ db: string; done: () => Promise<void> }>,
) {
  describe(`pushed authorization requests on ${engine}`, () => {
    let store: Store
    let server: Awaited<ReturnType<typeof startServer>>
    let done: () => Promise<void>
    let shift = 0

    before(async () => {
      const target = await url()
      done = target.done
      store = await openStore(target.db)
      server = await startServer({ db: shiftedStore(store, () => shift), port: 0 })
      await createClient(store, {
        id: 'spa',
        grant: ['authorization_code'],
        redirectUri: [REDIRECT],
        public: true,
      })
      await createUser(store, USER)
    })
    after(async () => {
      await server?.close()
      await store?.close()
      await done?.()
    })

    const post = (path: string, form: Record<string, string>): Promise<HttpResponse> =>
      request(server.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      })

    async function push(): Promise<{ requestUri: string; expiresIn: number; verifier: string }> {
      const p = pkce()
      const res = await post('/par', {
        client_id: 'spa',
        response_type: 'code',
        redirect_uri: REDIRECT,
        code_challenge: p.challenge,
        code_challenge_method: 'S256',
      })
      assert.equal(res.status, 201, res.text)
      return {
        requestUri: res.json.request_uri as string,
        expiresIn: res.json.expires_in as number,
        verifier: p.verifier,
      }
    }
    const byReference = (requestUri: string): string =>
      `/authorize?${new URLSearchParams({ client_id: 'spa', request_uri: requestUri }).toString()}`

    it('pushes, signs in, refuses the replay and redeems the code', async () => {
      const pushed = await push()
      const browser = new Browser(server.url)
      const page = await browser.get(byReference(pushed.requestUri))
      assert.equal(page.status, 200, page.text.slice(0, 300))
      const replay = await new Browser(server.url).get(byReference(pushed.requestUri))
      assert.equal(replay.status, 400)
      assert.equal(replay.headers.location, undefined)
      const res = await browser.postForm(formAction(page.text) ?? '/authorize', {
        ...formFields(page.text),
        ...USER,
      })
      assert.equal(res.status, 303, res.text.slice(0, 300))
      const code = new URL(res.headers.location!).searchParams.get('code') ?? ''
      const token = await post('/token', {
        grant_type: 'authorization_code',
        client_id: 'spa',
        code,
        redirect_uri: REDIRECT,
        code_verifier: pushed.verifier,
      })
      assert.equal(token.status, 200, token.text)
      assert.equal(typeof token.json.access_token, 'string')
    })

    it('refuses a request_uri once its expires_in has passed, and not before', async () => {
      const late = await push()
      const inTime = await push()
      try {
        shift = late.expiresIn
        const expired = await new Browser(server.url).get(byReference(late.requestUri))
        assert.equal(expired.status, 400)
        assert.equal(expired.headers.location, undefined)
        // Two seconds short: the server's clock counts whole seconds, and one may tick meanwhile.
        shift = inTime.expiresIn - 2
        const live = await new Browser(server.url).get(byReference(inTime.requestUri))
        assert.equal(live.status, 200, live.text.slice(0, 300))
      } finally {
        shift = 0
      }
    })
  })
}

engineSuite('SQLite', () => {
  const { dir, cleanup } = tempDir()
  return Promise.resolve({
    db: `sqlite:${join(dir, 'par.db')}`,
    done: () => Promise.resolve(cleanup()),
  })
})

engineSuite('PostgreSQL', async () => {
  const database: TestDatabase = await createTestDatabase()
  return { db: database.url, done: () => database.drop() }
})
