import assert from 'node:assert/strict'
import { Agent, request as httpRequest } from 'node:http'
import { after, before, describe, it } from 'node:test'
import {
  basic,
  cli,
  createClient,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

interface KeptAliveResponse {
  status: number
  json: Record<string, unknown>
  /** Whether the request went over a connection that had served an earlier one. */
  reused: boolean
}

describe('client authentication on a keep-alive connection', () => {
  let server: TestServer
  let svc: CreatedClient
  let agent: Agent

  before(async () => {
    server = await startServer()
    svc = createClient(server.db, 'svc-keepalive', '--grant', 'client_credentials')
  })
  after(async () => {
    agent?.destroy()
    await server.dispose()
  })

  /** One connection for every request of a test: a keep-alive agent with a single socket. */
  function oneConnection(): void {
    agent?.destroy()
    agent = new Agent({ keepAlive: true, maxSockets: 1 })
  }

  function post(
    path: string,
    form: Record<string, string>,
    authorization?: string,
  ): Promise<KeptAliveResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
    if (authorization !== undefined) headers.authorization = authorization
    return new Promise((resolve, reject) => {
      const req = httpRequest(server.url + path, { method: 'POST', headers, agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          resolve({
            status: res.statusCode ?? 0,
            json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
            reused: req.reusedSocket,
          })
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(new URLSearchParams(form).toString())
    })
  }

  const grant = { grant_type: 'client_credentials' }

  it('accepts the same Basic header again on the same connection', async () => {
    oneConnection()
    const header = basic(svc.client_id, svc.client_secret)
    const first = await post('/token', grant, header)
    assert.equal(first.status, 200)
    for (let i = 0; i < 3; i++) {
      const again = await post('/token', grant, header)
      assert.equal(again.status, 200)
      assert.ok(again.reused, 'went over the first connection')
      assert.equal(typeof again.json.access_token, 'string')
    }
    const introspected = await post(
      '/introspect',
      { token: first.json.access_token as string },
      header,
    )
    assert.equal(introspected.status, 200)
    assert.ok(introspected.reused)
  })

  it('checks a different header on that connection: a wrong secret is refused', async () => {
    oneConnection()
    const right = basic(svc.client_id, svc.client_secret)
    assert.equal((await post('/token', grant, right)).status, 200)
    const wrong = await post('/token', grant, basic(svc.client_id, 'not-the-secret-at-all'))
    assert.equal(wrong.status, 401)
    assert.equal(wrong.json.error, 'invalid_client')
    assert.ok(wrong.reused, 'on the connection that had authenticated')
    const again = await post('/token', grant, right)
    assert.equal(again.status, 200)
    assert.ok(again.reused)
  })

  it('leaves client_secret_post checked on every request', async () => {
    oneConnection()
    const form = { ...grant, client_id: svc.client_id }
    assert.equal((await post('/token', { ...form, client_secret: svc.client_secret })).status, 200)
    const wrong = await post('/token', { ...form, client_secret: 'not-the-secret-at-all' })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.json.error, 'invalid_client')
    assert.ok(wrong.reused)
    const none = await post('/token', form)
    assert.equal(none.status, 401)
    assert.ok(none.reused)
  })

  it('refuses a deleted client on a connection it authenticated, within the client cache TTL', async () => {
    const doomed = createClient(server.db, 'svc-keepalive-doomed', '--grant', 'client_credentials')
    oneConnection()
    const header = basic(doomed.client_id, doomed.client_secret)
    assert.equal((await post('/token', grant, header)).status, 200)
    assert.equal((await post('/token', grant, header)).status, 200)
    assert.equal(cli(['client', 'delete', '--db', server.db, '--id', doomed.client_id]).status, 0)
    const deletedAt = Date.now()
    let refused: KeptAliveResponse | undefined
    while (!refused && Date.now() - deletedAt < 3000) {
      const res = await post('/token', grant, header)
      assert.ok(res.reused, 'still the same connection')
      if (res.status !== 200) refused = res
      else await sleep(50)
    }
    assert.ok(refused, 'refused within the client cache TTL')
    assert.equal(refused.status, 401)
    assert.equal(refused.json.error, 'invalid_client')
    assert.ok(Date.now() - deletedAt < 2000, 'within about a second')
  })
})
