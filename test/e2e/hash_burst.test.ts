/**
 * Unauthenticated hashing (issue 10, item 4): a burst of 1,000 client authentications with wrong
 * secrets from one address, 100 in flight at once, while a verified client asks for tokens from
 * another address. Each wrong secret costs a 32 MiB scrypt when hashed: at most the per-address limit
 * may be, the rest are refused at once. The verified client's latency is printed, not asserted (it is
 * a speed target: `bench/hash_burst.ts` measures it).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { quantile, runHashBurst, secretHashes } from '../helpers/hash_burst.js'
import {
  createClient,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

/** The default `rateLimit.perAddress`. */
const PER_ADDRESS = 20

describe('a burst of wrong client secrets from one address', () => {
  let server: TestServer
  let client: CreatedClient

  before(async () => {
    server = await startServer({ env: { LATCHKEY_LOG_REQUESTS: 'false' } })
    client = createClient(server.db, 'verified', '--grant', 'client_credentials')
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      client.client_id,
      client.client_secret,
    ])
    assert.equal(res.status, 200, res.text)
  })

  after(async () => {
    await server?.dispose()
  })

  it('hashes at most the per-address limit, refuses the rest at once, and keeps serving a verified client', async (t) => {
    assert.equal(await secretHashes(server), 1, 'the verified client was hashed once')
    const r = await runHashBurst(server, {
      requests: 1000,
      concurrency: 100,
      attackers: ['127.0.0.1'],
      verified: { client, from: '127.0.0.2' },
    })
    const statuses = Object.fromEntries(r.statuses)
    t.diagnostic(
      `burst answers by status: ${JSON.stringify(statuses)} in ${Math.round(r.burstMs)} ms`,
    )
    t.diagnostic(
      `verified client: ${r.latenciesMs.length} requests, p50 ${quantile(r.latenciesMs, 0.5).toFixed(1)} ms, ` +
        `p99 ${quantile(r.latenciesMs, 0.99).toFixed(1)} ms, max ${quantile(r.latenciesMs, 1).toFixed(1)} ms`,
    )
    assert.ok(r.hashes <= PER_ADDRESS, `${r.hashes} secrets hashed, at most ${PER_ADDRESS}`)
    const failed = r.statuses.get(401) ?? 0
    assert.ok(failed <= PER_ADDRESS, `${failed} answered 401`)
    const refused = (r.statuses.get(429) ?? 0) + (r.statuses.get(503) ?? 0)
    assert.equal(failed + refused, 1000, `only 401, 429 and 503: ${JSON.stringify(statuses)}`)
    assert.deepEqual(r.verifiedFailures, [], 'the verified client got every token')
    assert.ok(r.latenciesMs.length > 0)
  })
})
