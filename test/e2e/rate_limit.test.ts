/**
 * Throttling of failed client authentications (SECURITY.md "Credentials"), against a real server with
 * small limits: 3 failures per client and address, 5 per address, in a 2-second window. Source addresses
 * other than 127.0.0.1 act as other machines (Linux routes all of 127/8 to the loopback interface).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  createClient,
  sleep,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const PER_CLIENT = 3
const PER_ADDRESS = 5
// Long enough that a burst of failing requests (one scrypt each, slower on a loaded CI machine)
// fits in one window: windows are whole seconds, so a 2 s window can end after 1 s.
const WINDOW_SECONDS = 5

const ATTACKER = '127.0.0.2'
const SPRAYER = '127.0.0.3'
const ELSEWHERE = '127.0.0.1'

const TOKEN_FORM = { grant_type: 'client_credentials' }

describe('client authentication throttling', () => {
  let server: TestServer
  let clientA: CreatedClient
  let clientB: CreatedClient

  function token(
    client: CreatedClient,
    secret: string,
    from: string,
    at: TestServer = server,
  ): Promise<HttpResponse> {
    return at.post('/token', TOKEN_FORM, [client.client_id, secret], from)
  }

  /** Asserts a 429 with a positive whole `Retry-After` and an error code; returns the seconds. */
  function assertThrottled(res: HttpResponse, label?: string, window = WINDOW_SECONDS): number {
    assert.equal(res.status, 429, `${label ?? ''} ${res.text}`)
    const retryAfter = String(res.headers['retry-after'])
    assert.match(retryAfter, /^[1-9][0-9]*$/, label)
    const seconds = Number(retryAfter)
    assert.ok(seconds <= window, `Retry-After ${seconds} is within the window`)
    const error = (res.json as { error?: unknown } | undefined)?.error
    assert.equal(typeof error, 'string', label)
    assert.notEqual(error, '', label)
    assert.match(String(res.headers['cache-control']), /no-store/, label)
    return seconds
  }

  before(async () => {
    server = await startServer({
      env: {
        LATCHKEY_AUTH_FAILURES_PER_CLIENT: String(PER_CLIENT),
        LATCHKEY_AUTH_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
        LATCHKEY_AUTH_FAILURE_WINDOW: String(WINDOW_SECONDS),
      },
    })
    clientA = createClient(server.db, 'client-a', '--grant', 'client_credentials')
    clientB = createClient(server.db, 'client-b', '--grant', 'client_credentials')
  })

  after(async () => {
    await server?.dispose()
  })

  it('throttles one address guessing one client, without locking the client out elsewhere or for good', async () => {
    let firstFailureAt = 0
    let throttled: HttpResponse | undefined
    let throttledAt = 0
    const statuses: number[] = []
    for (let i = 0; i < PER_CLIENT + 2 && !throttled; i++) {
      if (i === 0) firstFailureAt = Date.now()
      const res = await token(clientA, `wrong-secret-${i}-of-client-a`, ATTACKER)
      statuses.push(res.status)
      if (res.status === 429) {
        throttled = res
        throttledAt = Date.now()
      } else assert.equal((res.json as { error?: unknown }).error, 'invalid_client')
    }
    assert.deepEqual(statuses, [401, 401, 401, 429], 'throttled after the third failure')
    const retryAfter = assertThrottled(throttled!)

    // The throttle belongs to the address: even the right secret is refused from there for now.
    assertThrottled(
      await token(clientA, clientA.client_secret, ATTACKER),
      'right secret, same address',
    )

    // The real client, elsewhere, is not locked out.
    const elsewhere = await token(clientA, clientA.client_secret, ELSEWHERE)
    assert.equal(elsewhere.status, 200, elsewhere.text)

    // After the window the attacker's address may try again, and the right secret works from there.
    const windowEnds = Math.min(
      firstFailureAt + WINDOW_SECONDS * 1000,
      throttledAt + retryAfter * 1000,
    )
    await sleep(windowEnds - Date.now() + 200)
    const afterWindow = await token(clientA, clientA.client_secret, ATTACKER)
    assert.equal(afterWindow.status, 200, afterWindow.text)
  })

  it('throttles one address spraying wrong secrets across many client ids', async () => {
    // Six hashes in a row can outlast a 5 s window on a loaded machine: this server's window is long
    // enough that every failure still counts when the sixth request arrives.
    const wide = await startServer({
      env: {
        LATCHKEY_AUTH_FAILURES_PER_CLIENT: String(PER_CLIENT),
        LATCHKEY_AUTH_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
        LATCHKEY_AUTH_FAILURE_WINDOW: '60',
      },
    })
    try {
      const real = createClient(wide.db, 'client-real', '--grant', 'client_credentials')
      const statuses: number[] = []
      for (let i = 0; i < PER_ADDRESS + 1; i++) {
        // Each client id fails once only, below its own limit: the per-address limit is what bites.
        const res = await wide.post(
          '/token',
          TOKEN_FORM,
          [`sprayed-${i}`, 'not-a-real-secret'],
          SPRAYER,
        )
        statuses.push(res.status)
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429])

      // The address is throttled for every client, a real one with its right secret included …
      assertThrottled(
        await token(real, real.client_secret, SPRAYER, wide),
        'real client from sprayer',
        60,
      )
      // … while the same client succeeds from elsewhere.
      const elsewhere = await token(real, real.client_secret, ELSEWHERE, wide)
      assert.equal(elsewhere.status, 200, elsewhere.text)
    } finally {
      await wide.dispose()
    }
  })

  it('does not count throttled requests, so waiting out the window is enough', async () => {
    const from = '127.0.0.4'
    for (let i = 0; i < PER_CLIENT; i++) {
      assert.equal((await token(clientB, `wrong-${i}-of-client-b`, from)).status, 401)
    }
    const throttled = await token(clientB, 'wrong-again-of-client-b', from)
    const throttledAt = Date.now()
    const retryAfter = assertThrottled(throttled)
    // Hammering during the window must not extend it.
    for (let i = 0; i < 5; i++) assertThrottled(await token(clientB, `wrong-more-${i}`, from))
    await sleep(throttledAt + retryAfter * 1000 - Date.now() + 200)
    const res = await token(clientB, clientB.client_secret, from)
    assert.equal(res.status, 200, res.text)
  })

  it('counts failures at introspection and revocation with those at the token endpoint', async () => {
    const from = '127.0.0.6'
    const wrong: [string, string] = [clientA.client_id, 'wrong-secret-of-client-a']
    assert.equal((await server.post('/introspect', { token: 'x' }, wrong, from)).status, 401)
    assert.equal((await server.post('/revoke', { token: 'x' }, wrong, from)).status, 401)
    assert.equal((await server.post('/introspect', { token: 'x' }, wrong, from)).status, 401)
    assertThrottled(await token(clientA, clientA.client_secret, from), 'token endpoint')
    assertThrottled(await server.post('/revoke', { token: 'x' }, wrong, from), 'revocation')
  })

  it('keeps successful authentications from an address unthrottled', async () => {
    const from = '127.0.0.5'
    for (let i = 0; i < PER_ADDRESS + PER_CLIENT + 2; i++) {
      const res = await token(clientA, clientA.client_secret, from)
      assert.equal(res.status, 200, `request ${i}: ${res.text}`)
    }
  })
})
