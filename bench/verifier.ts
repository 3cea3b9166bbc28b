/**
 * Verifier SDK throughput, next to raw `node:crypto` ES256 verification measured in the same run:
 * JWT verification cold (every token new: parse, signature, claims, revocation set, cache insert) and
 * warm (a repeated token, from the cache), and cached introspection of an opaque token. A real server
 * process serves discovery, the JWKS, introspection and the feed; the tokens are signed with its key.
 *
 * Usage: node dist/bench/verifier.js [--seconds S] (default 3 per measure)
 * Targets (issue 4): cold >= 85% of raw verify; warm >= 10x raw verify.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createVerifier } from '@latchkey/verifier'
import { createClient, startServer } from '../test/helpers/server.js'
import { signWithServerKey } from './server_tokens.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } })
const SECONDS = Number(values.seconds)

/** Calls `fn` for `seconds` after a short warm-up; returns ops/s. */
function syncRate(fn: () => void, seconds: number): number {
  const warm = performance.now() + 200
  while (performance.now() < warm) fn()
  const start = performance.now()
  let ops = 0
  let now = start
  while (now - start < seconds * 1000) {
    for (let i = 0; i < 64; i++) fn()
    ops += 64
    now = performance.now()
  }
  return ops / ((now - start) / 1000)
}

/** Runs `next(i)` with `inFlight` calls outstanding for `seconds` (or until `limit` calls); ops/s. */
async function asyncRate(
  next: (i: number) => Promise<unknown>,
  seconds: number,
  inFlight: number,
  limit = Infinity,
): Promise<number> {
  let i = 0
  const start = performance.now()
  const end = start + seconds * 1000
  const worker = async (): Promise<void> => {
    while (performance.now() < end && i < limit) await next(i++)
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  return i / ((performance.now() - start) / 1000)
}

function rawVerifyRate(seconds: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const input = Buffer.from('x'.repeat(330))
  const key = { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
  const signature = sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' })
  return syncRate(() => verify('sha256', input, key, signature), seconds)
}

const server = await startServer({ env: { LATCHKEY_LOG_LEVEL: 'warn' } })
try {
  const api = createClient(
    server.db,
    'bench-api',
    '--grant',
    'client_credentials',
    '--resource-server',
  )
  const op = createClient(
    server.db,
    'bench-op',
    '--grant',
    'client_credentials',
    '--scope',
    'read',
    '--access-token-format',
    'opaque',
  )

  // Tokens signed with the server's own key, read from its database (as a second node would).
  const COLD_TOKENS = Math.ceil(25_000 * SECONDS)
  const tokens = await signWithServerKey(server.db, COLD_TOKENS, (i, now) => ({
    iss: server.url,
    sub: `user-${i}`,
    aud: server.url,
    exp: now + 600,
    iat: now,
    jti: `jti-${i}-${Math.random().toString(36).slice(2)}`,
    client_id: 'bench-app',
    scope: 'read',
    sid: `sid-${i}`,
  }))

  const options = {
    issuer: server.url,
    audience: server.url,
    clientId: api.client_id,
    clientSecret: api.client_secret,
  }
  const inline = createVerifier({ ...options, offloadSignatureChecks: false })
  const offload = createVerifier({ ...options, offloadSignatureChecks: true })
  await inline.ready()
  await offload.ready()

  const raw = rawVerifyRate(SECONDS)
  const third = Math.floor(tokens.length / 3)
  const cold = await asyncRate((i) => inline.verify(tokens[i]!), SECONDS, 1, third)
  const coldParallel = await asyncRate(
    (i) => offload.verify(tokens[third + i]!),
    SECONDS,
    64,
    third,
  )
  const hot = tokens[0]!
  await inline.verify(hot)
  const warm = await asyncRate(() => inline.verify(hot), SECONDS, 1)
  const opaque = (
    await server.post('/token', { grant_type: 'client_credentials' }, [
      op.client_id,
      op.client_secret,
    ])
  ).json.access_token as string
  await inline.verify(opaque)
  const introspected = await asyncRate(() => inline.verify(opaque), SECONDS, 1)
  const stats = inline.stats()
  inline.close()
  offload.close()

  const row = (name: string, ops: number, note = ''): string =>
    `${name.padEnd(48)} ${Math.round(ops).toLocaleString('en-US').padStart(12)} ops/s  ${note}`
  const pct = (x: number): string => `${((x / raw) * 100).toFixed(0)}% of raw`
  console.log(`verifier benchmark (node ${process.version}, ${SECONDS} s per measure)`)
  console.log(row('raw node:crypto ES256 verify (sync, 1 thread)', raw))
  console.log(row('verifier JWT cold, inline (1 in flight)', cold, `${pct(cold)}  target >= 85%`))
  console.log(row('verifier JWT cold, offloaded (64 in flight)', coldParallel, pct(coldParallel)))
  console.log(
    row(
      'verifier JWT warm (repeated token)',
      warm,
      `${(warm / raw).toFixed(1)}x raw  target >= 10x`,
    ),
  )
  console.log(
    row(
      'verifier opaque, cached introspection',
      introspected,
      `${(introspected / raw).toFixed(1)}x raw`,
    ),
  )
  console.log(
    `introspection requests: ${stats.introspections}; signature checks: ${stats.signatureChecks}`,
  )
  console.log(
    JSON.stringify({
      rawVerifyPerSecond: Math.round(raw),
      coldPerSecond: Math.round(cold),
      coldOffloadedPerSecond: Math.round(coldParallel),
      warmPerSecond: Math.round(warm),
      cachedIntrospectionPerSecond: Math.round(introspected),
      coldVsRaw: cold / raw,
      warmVsRaw: warm / raw,
    }),
  )
} finally {
  await server.dispose()
}
