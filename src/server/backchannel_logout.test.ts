import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { after, before, beforeEach, describe, it } from 'node:test'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { client, session } from '../../test/store/fixtures.js'
import { createSqliteStore } from '../store/sqlite/index.js'
import type { RevocationEvent, Store } from '../store/types.js'
import { ensureSigningKey } from '../tokens/key_management.js'
import { KeyRing } from '../tokens/key_ring.js'
import {
  BACKCHANNEL_LOGOUT_EVENT,
  BackchannelLogout,
  DEFAULT_BACKCHANNEL_OPTIONS,
  type BackchannelOptions,
} from './backchannel_logout.js'
import { ClientCache } from './client_cache.js'
import { BackchannelMetrics } from './metrics.js'

const ISSUER = 'https://auth.example'
const now = (): number => Math.floor(Date.now() / 1000)

describe('back-channel logout delivery', () => {
  let receiver: Server
  let url = ''
  /** The status each POST gets, in order; 200 once the list is used up. */
  let statuses: number[] = []
  let received: string[] = []
  let store: Store
  let keys: KeyRing
  let registry: Registry
  let metrics: BackchannelMetrics

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        received.push(new URLSearchParams(Buffer.concat(chunks).toString()).get('logout_token')!)
        res.writeHead(statuses.shift() ?? 200).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    const address = receiver.address()
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/bc`
  })
  after(() => new Promise<void>((resolve) => receiver.close(() => resolve())))

  beforeEach(async () => {
    statuses = []
    received = []
    registry = new Registry()
    metrics = new BackchannelMetrics(registry)
    store = createSqliteStore(':memory:')
    await ensureSigningKey(store, { alg: 'ES256', now: now() - 10 })
    keys = await KeyRing.load(store, { clock: now })
    // Its logout tokens are signed like its ID tokens: with the one key this store has.
    await store.createClient(
      client('web', { backchannelLogoutUri: url, idTokenSignedResponseAlg: 'ES256' }),
    )
    await store.createClient(client('quiet'))
    await store.createSession(session('s1', { userId: 'u1', clientId: 'web' }), null, null)
    await store.createSession(session('s2', { userId: 'u1', clientId: 'quiet' }), null, null)
  })

  function deliverer(options: Partial<BackchannelOptions> = {}): BackchannelLogout {
    return new BackchannelLogout(
      {
        store,
        clients: new ClientCache(store),
        keys,
        issuer: ISSUER,
        metrics,
        logger: pino({ level: 'silent' }),
        clock: now,
      },
      { ...DEFAULT_BACKCHANNEL_OPTIONS, backoffMs: 10, ...options },
    )
  }

  let seq = 0
  const sidEvent = (sessionId: string, clientId: string): RevocationEvent => ({
    seq: ++seq,
    kind: 'sid',
    value: sessionId,
    clientId,
    createdAt: now(),
    expiresAt: now() + 300,
  })

  async function outcomes(): Promise<Record<string, number>> {
    const text = await registry.metrics()
    const out: Record<string, number> = {}
    for (const m of text.matchAll(
      /^latchkey_backchannel_logout_deliveries_total\{outcome="(\w+)"\} (\d+)/gm,
    )) {
      out[m[1]!] = Number(m[2])
    }
    return out
  }

  it('posts one logout token for a session of a client with a back-channel URI, and none for others', async () => {
    const d = deliverer()
    d.onEvents([
      sidEvent('s1', 'web'),
      sidEvent('s2', 'quiet'),
      { ...sidEvent('u1', 'web'), kind: 'sub' },
    ])
    await d.settled()
    assert.equal(received.length, 1)
    const token = received[0]!
    assert.equal(decodeProtectedHeader(token).typ, 'logout+jwt')
    const claims = decodeJwt(token)
    assert.equal(claims.iss, ISSUER)
    assert.equal(claims.aud, 'web')
    assert.equal(claims.sub, 'u1')
    assert.equal(claims.sid, 's1')
    assert.deepEqual(claims.events, { [BACKCHANNEL_LOGOUT_EVENT]: {} })
    assert.equal(claims.nonce, undefined)
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 120)
    assert.equal((await outcomes()).delivered, 1)
  })

  it('delivers an event once across deliverers sharing the store (the claim)', async () => {
    const [a, b] = [deliverer(), deliverer()]
    const event = sidEvent('s1', 'web')
    a.onEvents([event])
    b.onEvents([event])
    await Promise.all([a.settled(), b.settled()])
    assert.equal(received.length, 1)
  })

  it('tries again after a 5xx and gives up after the last try', async () => {
    statuses = [503, 500, 502]
    const d = deliverer({ attempts: 3 })
    d.onEvents([sidEvent('s1', 'web')])
    await d.settled()
    assert.equal(received.length, 3)
    assert.equal((await outcomes()).failed, 1)
  })

  it('does not try again after a 4xx: the receiver refused', async () => {
    statuses = [400]
    const d = deliverer()
    d.onEvents([sidEvent('s1', 'web')])
    await d.settled()
    assert.equal(received.length, 1)
    assert.equal((await outcomes()).refused, 1)
  })

  it('drops events beyond its queue, counting them', async () => {
    await store.createSession(session('s3', { clientId: 'web' }), null, null)
    const d = deliverer({ maxQueued: 1 })
    d.onEvents([sidEvent('s1', 'web'), sidEvent('s3', 'web')])
    await d.settled()
    assert.equal(received.length, 1)
    assert.deepEqual(await outcomes(), { delivered: 1, refused: 0, failed: 0, dropped: 1 })
  })

  it('stops waiting between tries when stopped', async () => {
    statuses = [500, 500, 500, 500, 500]
    const d = deliverer({ backoffMs: 60_000 })
    d.onEvents([sidEvent('s1', 'web')])
    while (received.length === 0) await new Promise((r) => setTimeout(r, 5))
    const started = Date.now()
    await d.stop()
    assert.ok(Date.now() - started < 5000, 'stop does not wait for the backoff')
    assert.equal(received.length, 1)
  })
})
