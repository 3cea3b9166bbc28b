/**
 * A node killed with SIGKILL in the middle of load, beside another node on the same PostgreSQL
 * database: every revocation it acknowledged stays refused on the survivor, no refresh lineage forks
 * (at most one live refresh token per session), and the survivor answers throughout.
 */

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { authorize, Browser, pkce } from '../helpers/browser.js'
import {
  createClient,
  createUser,
  createWebClient,
  sleep,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const ISSUER = 'http://latchkey.node-kill.test'
const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }

describe('a node killed with SIGKILL under load', () => {
  let database: TestDatabase
  let a: TestServer
  let b: TestServer
  let svc: CreatedClient
  let web: CreatedClient
  let api: CreatedClient

  const creds = (c: CreatedClient): [string, string] => [c.client_id, c.client_secret]

  before(async () => {
    database = await createTestDatabase()
    const options = { db: database.url, args: ['--issuer', ISSUER] }
    a = await startServer(options)
    b = await startServer(options)
    svc = createClient(database.url, 'svc', '--grant', 'client_credentials')
    api = createClient(database.url, 'api', '--grant', 'client_credentials', '--resource-server')
    web = createWebClient(database.url, REDIRECT)
    createUser(database.url, USER)
  })
  after(async () => {
    await Promise.all([a?.dispose(), b?.dispose()])
    await database?.drop()
  })

  /** Settles a request to a node that may die: `null` when the connection failed. */
  const attempt = (request: Promise<HttpResponse>): Promise<HttpResponse | null> =>
    request.catch(() => null)

  async function login(node: TestServer): Promise<string> {
    const p = pkce()
    const landed = await authorize(
      new Browser(node.url),
      { clientId: web.client_id, redirectUri: REDIRECT, challenge: p.challenge, state: 's' },
      USER,
    )
    const code = landed.searchParams.get('code')
    assert.ok(code, landed.href)
    const res = await node.post(
      '/token',
      { grant_type: 'authorization_code', code, code_verifier: p.verifier, redirect_uri: REDIRECT },
      creds(web),
    )
    assert.equal(res.status, 200, res.text)
    return res.json.refresh_token as string
  }

  it('loses no acknowledged revocation, forks no lineage, and the other node keeps serving', async () => {
    const sessions = await Promise.all(Array.from({ length: 6 }, () => login(a)))
    let killed = false
    const acknowledged: string[] = []

    // Token + revoke on A, in four loops, until A dies.
    const revokeLoop = async (): Promise<void> => {
      while (!killed) {
        const issued = await attempt(
          a.post('/token', { grant_type: 'client_credentials' }, creds(svc)),
        )
        if (issued?.status !== 200) continue
        const value = issued.json.access_token as string
        const revoked = await attempt(a.post('/revoke', { token: value }, creds(svc)))
        if (revoked?.status === 200) acknowledged.push(value)
      }
    }
    // Each session refreshed by three parallel requests to A, round after round, until A dies.
    const refreshLoop = async (initial: string): Promise<void> => {
      let current = initial
      while (!killed) {
        const results = await Promise.all(
          Array.from({ length: 3 }, () =>
            attempt(
              a.post('/token', { grant_type: 'refresh_token', refresh_token: current }, creds(web)),
            ),
          ),
        )
        const next = results.find((r) => r?.status === 200)
        if (!next) return
        current = next.json.refresh_token as string
      }
    }
    // B answers throughout: a token request every 20 ms, each must succeed.
    const bStatuses: number[] = []
    const bLoop = async (): Promise<void> => {
      while (!killed || bStatuses.length < 100) {
        const res = await b.post('/token', { grant_type: 'client_credentials' }, creds(svc))
        bStatuses.push(res.status)
        await sleep(20)
      }
    }

    const load = [...Array.from({ length: 4 }, revokeLoop), ...sessions.map(refreshLoop), bLoop()]
    // Under load for at least 1.5 s and until A has acknowledged some revocations (a busy CI machine
    // may need longer for that).
    await sleep(1500)
    for (const deadline = Date.now() + 15_000; acknowledged.length <= 20 && Date.now() < deadline;)
      await sleep(50)
    a.process.kill('SIGKILL')
    killed = true
    await Promise.all(load)

    assert.ok(acknowledged.length > 10, `only ${acknowledged.length} revocations before the kill`)
    for (const value of acknowledged) {
      const res = await b.post('/introspect', { token: value }, creds(api))
      assert.equal(res.status, 200, res.text)
      assert.equal(res.json.active, false, 'an acknowledged revocation is refused on B')
    }
    const forked = await database.query<{ session_id: string; live: string }>(
      `SELECT session_id, count(*) AS live FROM refresh_tokens
       WHERE used_at IS NULL GROUP BY session_id HAVING count(*) > 1`,
    )
    assert.deepEqual(forked, [], 'at most one live refresh token per session')
    assert.ok(
      bStatuses.every((s) => s === 200),
      `B answered ${bStatuses.filter((s) => s !== 200).length} of ${bStatuses.length} with an error`,
    )
    console.log(
      `SIGKILL under load: ${acknowledged.length} acknowledged revocations all refused on B; ` +
        `B served ${bStatuses.length} token requests, all 200`,
    )
  })
})
