/**
 * A verified client's latency while another address sends a burst of client authentications with
 * wrong secrets (issue 10, item 4): each wrong secret would cost a 32 MiB scrypt if nothing bounded it.
 * A real server process with its default limits; the verified client asks for tokens one at a time
 * from 127.0.0.2 for as long as the burst lasts.
 *
 * Usage: npm run build && node dist/bench/hash_burst.js [--requests N] [--concurrency N] [--addresses N]
 *   --requests     wrong-secret requests in the burst (default 1000)
 *   --concurrency  of them in flight at once (default 100)
 *   --addresses    attacking source addresses, 127.0.1.1 … (default 1)
 * Target: the verified client's p99 ≤ 100 ms.
 */
import { parseArgs } from 'node:util'
import { quantile, runHashBurst } from '../test/helpers/hash_burst.js'
import { createClient, startServer } from '../test/helpers/server.js'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '100' },
    addresses: { type: 'string', default: '1' },
  },
})
const attackers = Array.from({ length: Number(values.addresses) }, (_, i) => `127.0.1.${i + 1}`)

const server = await startServer({ env: { LATCHKEY_LOG_REQUESTS: 'false' } })
try {
  const client = createClient(server.db, 'verified', '--grant', 'client_credentials')
  const verified = { client, from: '127.0.0.2' }
  // Verified once, so that the server remembers the secret, and warmed up.
  for (let i = 0; i < 20; i++) {
    await server.post('/token', { grant_type: 'client_credentials' }, [
      client.client_id,
      client.client_secret,
    ])
  }
  const r = await runHashBurst(server, {
    requests: Number(values.requests),
    concurrency: Number(values.concurrency),
    attackers,
    verified,
  })
  const ms = (q: number): string => quantile(r.latenciesMs, q).toFixed(1)
  console.log(
    JSON.stringify(
      {
        burst: { requests: Number(values.requests), concurrency: Number(values.concurrency) },
        attackers: attackers.length,
        burst_ms: Math.round(r.burstMs),
        burst_statuses: Object.fromEntries([...r.statuses].sort(([a], [b]) => a - b)),
        secret_hashes: Number.isNaN(r.hashes) ? 'not reported' : r.hashes,
        verified: {
          requests: r.latenciesMs.length,
          failures: r.verifiedFailures.length,
          p50_ms: Number(ms(0.5)),
          p99_ms: Number(ms(0.99)),
          max_ms: Number(ms(1)),
        },
      },
      null,
      2,
    ),
  )
} finally {
  await server.dispose()
}
