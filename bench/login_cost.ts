/**
 * What a login costs: the server's own argon2id password check (`verifyPassword`, OWASP parameters,
 * on libuv's thread pool), timed one at a time in this process. Every login through the login page
 * pays it once; token, refresh and introspection requests never do.
 */
import { hashPassword, MAX_CONCURRENT, verifyPassword } from '../src/tokens/passwords.js'
import { USER } from './clients.js'

export interface LoginCost {
  verifications: number
  meanMs: number
  p50Ms: number
  minMs: number
  maxMs: number
  /** At most this many verifications run at once in the server (its limit, not a measurement). */
  maxConcurrent: number
}

/** Times `runs` sequential verifications of the right password, after two unmeasured ones. */
export async function measureLoginCost(runs: number): Promise<LoginCost> {
  const encoded = await hashPassword(USER.password)
  for (let i = 0; i < 2; i++) await verifyPassword(USER.password, encoded)
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    const ok = await verifyPassword(USER.password, encoded)
    times.push(performance.now() - started)
    if (!ok) throw new Error('login cost: the right password did not verify')
  }
  times.sort((a, b) => a - b)
  const sum = times.reduce((a, b) => a + b, 0)
  return {
    verifications: runs,
    meanMs: sum / runs,
    p50Ms: times[Math.floor((runs - 1) / 2)] ?? 0,
    minMs: times[0] ?? 0,
    maxMs: times[runs - 1] ?? 0,
    maxConcurrent: MAX_CONCURRENT,
  }
}
