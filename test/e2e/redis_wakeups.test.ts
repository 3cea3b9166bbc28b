/**
 * `--redis`: pub/sub wakes the revocation feed of the other nodes at once, and Redis caches opaque
 * tokens. Two nodes share one SQLite file (the feed is polled once a second only) and a private
 * `redis-server` of this test, which is stopped and started again: the nodes keep serving from the
 * store, no revoked token is accepted in between, and the wake-ups and the cache come back by
 * themselves.
 */

import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, it } from 'node:test'
import { decodeJwt } from 'jose'
import {
  basic,
  createClient,
  freePort,
  sleep,
  startServer,
  tempDir,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'
import { openStream, type OpenStream } from '../helpers/sse.js'

/** A private Redis on `port`, without persistence; resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()))
  for (const deadline = Date.now() + 5000; !output.includes('Ready to accept');) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis: ${output}`)
    await sleep(20)
  }
  return child
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  await once(child, 'exit')
}

describe('two nodes with --redis: pub/sub wakes the revocation feed', () => {
  const folder = tempDir()
  let redisPort: number
  let redis: ChildProcess
  let a: TestServer
  let b: TestServer
  let svc: CreatedClient
  let opaque: CreatedClient
  let api: CreatedClient
  let stream: OpenStream

  const creds = (c: CreatedClient): [string, string] => [c.client_id, c.client_secret]

  before(async () => {
    redisPort = await freePort()
    redis = await startRedis(redisPort)
    const options = {
      dir: folder.dir,
      args: ['--issuer', 'http://latchkey.redis.test', '--redis', `redis://127.0.0.1:${redisPort}`],
      // No in-process token cache: the test counts what Redis answers.
      env: { LATCHKEY_FEED_POLL_MS: '1000', LATCHKEY_TOKEN_CACHE_SIZE: '0' },
    }
    a = await startServer(options)
    b = await startServer(options)
    svc = createClient(a.db, 'svc', '--grant', 'client_credentials')
    opaque = createClient(
      a.db,
      'opaque',
      '--grant',
      'client_credentials',
      '--access-token-format',
      'opaque',
    )
    api = createClient(a.db, 'api', '--grant', 'client_credentials', '--resource-server')
    stream = await openStream(`${b.url}/revocations`, {
      authorization: basic(api.client_id, api.client_secret),
    })
    await stream.waitFor((m) => m.event === 'ready')
  })
  after(async () => {
    stream?.close()
    await Promise.all([a?.dispose(), b?.dispose()])
    if (redis) await stopRedis(redis)
    folder.cleanup()
  })

  /** Issues an opaque token on A. */
  async function issueOpaque(): Promise<string> {
    const issued = await a.post('/token', { grant_type: 'client_credentials' }, creds(opaque))
    assert.equal(issued.status, 200, issued.text)
    return issued.json.access_token as string
  }

  async function introspect(node: TestServer, token: string): Promise<boolean> {
    const seen = await node.post('/introspect', { token }, creds(api))
    assert.equal(seen.status, 200, seen.text)
    return seen.json.active as boolean
  }

  /** B's count of opaque-token lookups answered by Redis. */
  async function tokenHits(): Promise<number> {
    const metrics = (await b.get('/metrics')).text
    const hits = /^latchkey_cache_lookups_total\{cache="token",result="hit"\} (\d+)/m.exec(metrics)
    return Number(hits?.[1] ?? 0)
  }

  /** Revokes a fresh JWT on A; resolves with ms from the acknowledgement to the event on B's feed. */
  async function revokeAndStream(timeoutMs: number): Promise<{ ms: number; token: string }> {
    const issued = await a.post('/token', { grant_type: 'client_credentials' }, creds(svc))
    assert.equal(issued.status, 200, issued.text)
    const token = issued.json.access_token as string
    const jti = decodeJwt(token).jti
    const from = stream.messages.length
    assert.equal((await a.post('/revoke', { token }, creds(svc))).status, 200)
    const acknowledged = performance.now()
    await stream.waitFor(
      (m) => m.event === 'message' && (JSON.parse(m.data) as { value: string }).value === jti,
      timeoutMs,
      from,
    )
    return { ms: performance.now() - acknowledged, token }
  }

  it('streams on B a revocation made on A within 100 ms p99, with the feed polled once a second', async () => {
    const elapsed: number[] = []
    for (let i = 0; i < 20; i++) elapsed.push((await revokeAndStream(2000)).ms)
    elapsed.sort((x, y) => x - y)
    const p99 = elapsed[elapsed.length - 1]!
    console.log(`redis wake-up: p50 ${elapsed[10]!.toFixed(1)} ms, max ${p99.toFixed(1)} ms`)
    assert.ok(p99 < 100, `p99 ${p99} ms`)
  })

  it('keeps serving and refusing revoked tokens while Redis is down, and wakes again after', async () => {
    const cachedThenRevoked = await issueOpaque()
    const cachedLive = await issueOpaque()
    const hits = await tokenHits()
    assert.equal(await introspect(b, cachedThenRevoked), true)
    assert.equal(await introspect(b, cachedLive), true)
    assert.equal(await tokenHits(), hits + 2, 'served from Redis while it is up')

    await stopRedis(redis)
    // Opaque tokens: from the store, the revoked one refused, the live one still active.
    assert.equal((await a.post('/revoke', { token: cachedThenRevoked }, creds(opaque))).status, 200)
    assert.equal(await introspect(b, cachedThenRevoked), false)
    assert.equal(await introspect(a, cachedThenRevoked), false)
    assert.equal(await introspect(b, cachedLive), true)
    assert.equal(await tokenHits(), hits + 2, 'no hit while Redis is down')

    // Served from the store; the event still reaches B's feed, by polling.
    const { token } = await revokeAndStream(3000)
    const seen = await b.post('/introspect', { token }, creds(api))
    assert.equal(seen.status, 200)
    assert.equal(seen.json.active, false)
    assert.equal((await b.get('/healthz')).status, 200)

    redis = await startRedis(redisPort)
    const deadline = Date.now() + 10_000
    for (;;) {
      if ((await revokeAndStream(3000)).ms < 100) break
      assert.ok(Date.now() < deadline, 'wake-ups come back within 10 s of Redis')
      await sleep(200)
    }
    // The cache too: a token issued now is written to Redis and served from it on B.
    const fresh = await issueOpaque()
    for (;;) {
      const before = await tokenHits()
      assert.equal(await introspect(b, fresh), true)
      if ((await tokenHits()) > before) break
      assert.ok(Date.now() < deadline, 'the cache comes back within 10 s of Redis')
      await sleep(200)
    }
    assert.equal(await introspect(b, cachedThenRevoked), false)
  })
})
