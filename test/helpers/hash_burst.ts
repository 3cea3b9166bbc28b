/**
 * A burst of client authentications with wrong secrets from one address while a verified client asks
 * for tokens from another: what `test/e2e/hash_burst.test.ts` checks and `bench/hash_burst.ts` times.
 */
import { randomBytes } from 'node:crypto'
import type { CreatedClient, TestServer } from './server.js'

export interface HashBurstOptions {
  /** Requests with a wrong secret, sent in turn from each of `attackers`. */
  requests: number
  /** At most this many of them in flight at once. */
  concurrency: number
  attackers: readonly string[]
  /** A client whose secret the server has verified already, asking for tokens from `from`. */
  verified: { client: CreatedClient; from: string }
}

export interface HashBurstResult {
  /** Answers to the burst by HTTP status. */
  statuses: Map<number, number>
  /** Client secrets the server hashed during the burst (`latchkey_secret_hashes_total`). */
  hashes: number
  /** The verified client's token requests during the burst, ms, in the order sent. */
  latenciesMs: number[]
  /** Statuses of those requests other than 200. */
  verifiedFailures: number[]
  burstMs: number
}

/** `latchkey_secret_hashes_total{kind="client_secret"}` from `/metrics`; `NaN` when absent. */
export async function secretHashes(server: TestServer): Promise<number> {
  const res = await server.get('/metrics')
  const line = /^latchkey_secret_hashes_total\{kind="client_secret"\} (\d+)$/m.exec(res.text)
  return line ? Number(line[1]) : Number.NaN
}

/** The `q` quantile (0–1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export async function runHashBurst(
  server: TestServer,
  o: HashBurstOptions,
): Promise<HashBurstResult> {
  const form = { grant_type: 'client_credentials' }
  const { client, from } = o.verified
  const hashesBefore = await secretHashes(server)

  let done = false
  const latenciesMs: number[] = []
  const verifiedFailures: number[] = []
  const verifiedLoop = (async () => {
    while (!done) {
      const started = performance.now()
      const res = await server.post('/token', form, [client.client_id, client.client_secret], from)
      latenciesMs.push(performance.now() - started)
      if (res.status !== 200) verifiedFailures.push(res.status)
    }
  })()

  const statuses = new Map<number, number>()
  let next = 0
  const started = performance.now()
  const worker = async (): Promise<void> => {
    while (next < o.requests) {
      const i = next++
      // Unknown clients and a known one, each with a different wrong secret: none is remembered, and
      // no two share one in-flight check.
      const id = i % 2 === 0 ? `unknown-client-${i}` : client.client_id
      const wrong = randomBytes(24).toString('base64url')
      const attacker = o.attackers[i % o.attackers.length]
      const res = await server.post('/token', form, [id, wrong], attacker)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker))
  const burstMs = performance.now() - started
  done = true
  await verifiedLoop
  return {
    statuses,
    hashes: (await secretHashes(server)) - hashesBefore,
    latenciesMs,
    verifiedFailures,
    burstMs,
  }
}
