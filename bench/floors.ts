/**
 * The floors the endpoints are compared with, measured in the same run: raw `node:crypto` ES256
 * signing and verification on one thread (the cost a JWT token endpoint cannot go under), and a bare
 * `node:http` server (the cost of HTTP itself on this machine, see `bare_http_server.ts`).
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { machineBusySeconds } from './harness.js'

export interface CryptoFloors {
  es256SignPerSecond: number
  es256VerifyPerSecond: number
  /** CPU used by other processes while these ran, as a share of one core (null without /proc). */
  cryptoOtherCpu: number | null
}

/** Calls `fn` in a tight loop for `seconds` (after a short unmeasured warm-up) and returns ops/s. */
function opsPerSecond(fn: () => void, seconds: number): number {
  const warmUntil = performance.now() + Math.min(250, seconds * 100)
  while (performance.now() < warmUntil) fn()
  const started = performance.now()
  const end = started + seconds * 1000
  let ops = 0
  let now = started
  while (now < end) {
    for (let i = 0; i < 64; i++) fn()
    ops += 64
    now = performance.now()
  }
  return ops / ((now - started) / 1000)
}

/**
 * ES256 sign and verify rates, single thread, synchronous, JWS signature encoding (r || s). The input
 * has the size of a real access token's signing input.
 */
export function measureCryptoFloors(seconds: number): CryptoFloors {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'x'.repeat(43) }))
  const payload = Buffer.from(
    JSON.stringify({
      iss: 'http://127.0.0.1:8080',
      sub: 'bench-jwt',
      aud: 'http://127.0.0.1:8080',
      exp: 1_700_000_300,
      iat: 1_700_000_000,
      jti: 'y'.repeat(22),
      client_id: 'bench-jwt',
      scope: 'read',
    }),
  )
  const input = Buffer.from(`${header.toString('base64url')}.${payload.toString('base64url')}`)
  const signKey = { key: privateKey, dsaEncoding: 'ieee-p1363' as const }
  const verifyKey = { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
  const signature = sign('sha256', input, signKey)
  if (!verify('sha256', input, verifyKey, signature)) throw new Error('ES256 self-check failed')
  const machineBefore = machineBusySeconds()
  const ownBefore = process.cpuUsage()
  const started = performance.now()
  const es256SignPerSecond = opsPerSecond(() => sign('sha256', input, signKey), seconds)
  const es256VerifyPerSecond = opsPerSecond(
    () => verify('sha256', input, verifyKey, signature),
    seconds,
  )
  const wall = (performance.now() - started) / 1000
  const own = process.cpuUsage(ownBefore)
  const machineAfter = machineBusySeconds()
  const cryptoOtherCpu =
    machineBefore === null || machineAfter === null
      ? null
      : Math.max(0, (machineAfter - machineBefore - (own.user + own.system) / 1e6) / wall)
  return { es256SignPerSecond, es256VerifyPerSecond, cryptoOtherCpu }
}
