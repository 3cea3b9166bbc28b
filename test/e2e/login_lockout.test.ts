/**
 * Lock-out of a user by someone else (issue 10, item 7): wrong passwords for `bob` from one address
 * throttle that address for bob, not bob everywhere; `latchkey user unlock` lifts the throttle on the
 * running server. Default limits (10 per username and address, 100 per username, 30 per address).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { authorizeQuery, Browser, formFields, pkce } from '../helpers/browser.js'
import {
  cli,
  createClient,
  createUser,
  startServer,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const BOB = { username: 'bob', password: 'bob password 1234' }
/** The default `loginLimit.perUserAddress`. */
const PER_USER_ADDRESS = 10

describe('login lock-out', () => {
  let server: TestServer

  before(async () => {
    server = await startServer({ env: { LATCHKEY_LOG_REQUESTS: 'false' } })
    createClient(server.db, 'web', '--grant', 'authorization_code', '--redirect-uri', REDIRECT)
    createUser(server.db, BOB)
  })
  after(() => server.dispose())

  async function login(from: string, password: string): Promise<HttpResponse> {
    const browser = new Browser(server.url, from)
    const page = await browser.get(
      authorizeQuery({ clientId: 'web', redirectUri: REDIRECT, challenge: pkce().challenge }),
    )
    assert.equal(page.status, 200)
    return browser.postForm('/authorize', {
      ...formFields(page.text),
      username: BOB.username,
      password,
    })
  }

  it('throttles the guessing address for that user only, until `user unlock`', async () => {
    for (let i = 0; i < PER_USER_ADDRESS; i++) {
      assert.equal((await login('127.0.0.1', `wrong guess ${i}`)).status, 401, `guess ${i + 1}`)
    }
    const throttled = await login('127.0.0.1', BOB.password)
    assert.equal(throttled.status, 429, 'the guessing address is throttled for bob')
    assert.match(String(throttled.headers['retry-after']), /^[1-9][0-9]*$/)

    // Bob, elsewhere, is not locked out.
    assert.equal((await login('127.0.0.2', BOB.password)).status, 303, 'bob from another address')

    const unlocked = cli(['user', 'unlock', '--db', server.db, '--username', 'bob'])
    assert.equal(unlocked.status, 0, unlocked.stderr)
    assert.equal((unlocked.json as { username?: unknown }).username, 'bob')

    assert.equal((await login('127.0.0.1', BOB.password)).status, 303, 'bob after the unlock')
  })

  it('refuses to unlock an unknown user with one line on stderr', () => {
    const r = cli(['user', 'unlock', '--db', server.db, '--username', 'nobody'])
    assert.notEqual(r.status, 0)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  })
})
