/**
 * The floors the endpoints are compared with, measured in the same run: raw `node:crypto` ES256
 * signing and verification on one thread (the cost a JWT token endpoint cannot go under), and a bare
 * `node:http` server (the cost of HTTP itself on this machine, see `bare_http_server.ts`). The sign
 * loop is measured once at the start of the run and again in token-jwt's interleaved rounds
 * (`createSignRounds`), beside the systems it is compared with.
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { setImmediate } from 'node:timers/promises'
import { machineBusySeconds } from './harness.js'

export interface CryptoFloors {
  es256SignPerSecond: number
  es256VerifyPerSecond: number
  /** CPU used by other processes while these ran, as a share of one core (null without /proc). */
  cryptoOtherCpu: number | null
}

/** One run of the sign loop among a case's interleaved rounds. */
export interface SignRound {
  es256SignPerSecond: number
  /** CPU used by other processes during the run, as a share of one core (null without /proc). */
  otherCpu: number | null
}

/**
 * The sign loop measured as one more participant of a case's interleaved rounds (token-jwt's), one
 * run per round.
 */
export interface SignFloorInRounds {
  /** The median run (the lower middle one for an even count): the floor the case is held against. */
  es256SignPerSecond: number
  /** Each round's run, in round order. */
  rounds: SignRound[]
  /** The length of each run (that of a measured run of the case). */
  seconds: number
}

/** Called about once a second of a loop with the whole seconds left. */
type Tick = (secondsLeft: number) => void

/**
 * Calls `fn` in a tight loop for `seconds` (after a short unmeasured warm-up) and returns ops/s.
 * Once a second the loop gives the event loop a turn and calls `tick` (so that progress is drawn);
 * those turns are not counted in the time.
 */
async function opsPerSecond(fn: () => void, seconds: number, tick?: Tick): Promise<number> {
  const warmUntil = performance.now() + Math.min(250, seconds * 100)
  while (performance.now() < warmUntil) fn()
  const total = seconds * 1000
  let ops = 0
  let busy = 0
  while (busy < total) {
    const started = performance.now()
    const end = started + Math.min(1000, total - busy)
    let now = started
    while (now < end) {
      for (let i = 0; i < 64; i++) fn()
      ops += 64
      now = performance.now()
    }
    busy += now - started
    tick?.(Math.max(0, Math.ceil((total - busy) / 1000)))
    await setImmediate()
  }
  return ops / (busy / 1000)
}

/** Runs `fn` and measures the CPU other processes used meanwhile, as a share of one core. */
async function withOtherCpu<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; otherCpu: number | null }> {
  const machineBefore = machineBusySeconds()
  const ownBefore = process.cpuUsage()
  const started = performance.now()
  const value = await fn()
  const wall = (performance.now() - started) / 1000
  const own = process.cpuUsage(ownBefore)
  const machineAfter = machineBusySeconds()
  const otherCpu =
    machineBefore === null || machineAfter === null
      ? null
      : Math.max(0, (machineAfter - machineBefore - (own.user + own.system) / 1e6) / wall)
  return { value, otherCpu }
}

interface SignKey {
  key: KeyObject
  dsaEncoding: 'ieee-p1363'
}

/**
 * A fresh P-256 key pair and the signing input of a real access token (its size and shape), with
 * the JWS signature encoding (r || s).
 */
function es256Material(): { input: Buffer; signKey: SignKey; verifyKey: SignKey } {
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
  return {
    input: Buffer.from(`${header.toString('base64url')}.${payload.toString('base64url')}`),
    signKey: { key: privateKey, dsaEncoding: 'ieee-p1363' },
    verifyKey: { key: publicKey, dsaEncoding: 'ieee-p1363' },
  }
}

/**
 * ES256 sign and verify rates, single thread, synchronous calls, `seconds` each. The input has the
 * size of a real access token's signing input.
 */
export async function measureCryptoFloors(seconds: number): Promise<CryptoFloors> {
  const { input, signKey, verifyKey } = es256Material()
  const signature = sign('sha256', input, signKey)
  if (!verify('sha256', input, verifyKey, signature)) throw new Error('ES256 self-check failed')
  const { value, otherCpu } = await withOtherCpu(async () => ({
    es256SignPerSecond: await opsPerSecond(() => sign('sha256', input, signKey), seconds),
    es256VerifyPerSecond: await opsPerSecond(
      () => verify('sha256', input, verifyKey, signature),
      seconds,
    ),
  }))
  return { ...value, cryptoOtherCpu: otherCpu }
}

/**
 * The sign loop of `measureCryptoFloors` (same key type, same input, one thread), one run per call,
 * for a case's interleaved rounds: the machine's speed drifts by a quarter from one minute to the
 * next, so the floor a case is held against is measured in the same rounds as the case.
 */
export function createSignRounds(): (seconds: number, tick?: Tick) => Promise<SignRound> {
  const { input, signKey } = es256Material()
  return async (seconds, tick) => {
    const { value, otherCpu } = await withOtherCpu(() =>
      opsPerSecond(() => sign('sha256', input, signKey), seconds, tick),
    )
    return { es256SignPerSecond: value, otherCpu }
  }
}

/** The rounds' runs with their median, as the report keeps them. */
export function signFloorInRounds(rounds: SignRound[], seconds: number): SignFloorInRounds {
  const sorted = rounds.map((r) => r.es256SignPerSecond).sort((a, b) => a - b)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  if (median === undefined) throw new Error('no rounds')
  return { es256SignPerSecond: median, rounds, seconds }
}
