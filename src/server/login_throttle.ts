/**
 * The login page's throttle (SECURITY.md "Credentials"): failed logins counted per username from one
 * address, per username from all addresses, and per address, each in a fixed window. A guess is
 * counted before its password is hashed (forgiven on success), so parallel guesses cannot all pass.
 *
 * One address that guesses a username locks it out only for itself: the username is locked out
 * everywhere only past `perUser`, set above `perAddress` so that no single address can reach it.
 * `latchkey user unlock` (another process, maybe on another machine) records in the store when the
 * user's failures were forgiven; a throttled username is checked against it, so the unlock reaches
 * every node without a message of its own and costs a query only when a user is locked out.
 */
import type { ServeConfig } from '../config.js'
import type { UserStore } from '../store/types.js'
import { isUsername } from '../users.js'
import type { FailureLimiter } from './rate_limit.js'

/** A counted attempt: `forgive()` takes it back (the password was right, or could not be checked). */
export interface LoginAttempt {
  forgive(): void
}

export class LoginThrottle {
  constructor(
    private readonly failures: FailureLimiter,
    private readonly limits: ServeConfig['loginLimit'],
    private readonly store: Pick<UserStore, 'getLoginsUnlockedAt'>,
  ) {}

  /**
   * Counts an attempt to sign in as `username` from `address` at `now`, or returns the seconds to wait
   * when one of its windows is full. A name that cannot exist gets no window of its own, so junk names
   * cannot fill the limiter's memory (the address's window still counts them).
   */
  async attempt(
    address: string,
    username: string,
    now: number,
  ): Promise<LoginAttempt | { retryAfter: number }> {
    const addressKey: [string, number] = [`a:${address}`, this.limits.perAddress]
    const userKeys: [string, number][] = isUsername(username)
      ? [
          // Neither usernames nor addresses contain a space.
          [`ua:${address} ${username}`, this.limits.perUserAddress],
          [`u:${username}`, this.limits.perUser],
        ]
      : []
    const keys = [addressKey, ...userKeys]
    const wait = (of: [string, number][]): number =>
      Math.max(0, ...of.map(([key, limit]) => this.failures.retryAfter(key, limit, now)))

    if (wait(userKeys) > 0) {
      // Locked out as a user: unless an unlock since forgave the failures counted so far.
      const unlockedAt = await this.store.getLoginsUnlockedAt(username)
      if (unlockedAt !== null) {
        for (const [key] of userKeys) this.failures.clearStartedBy(key, unlockedAt)
      }
    }
    // Checked and counted in one tick: parallel attempts cannot all slip under a limit.
    const retryAfter = wait(keys)
    if (retryAfter > 0) return { retryAfter }
    for (const [key] of keys) this.failures.fail(key, now)
    return {
      forgive: () => {
        for (const [key] of keys) this.failures.forgive(key, now)
      },
    }
  }
}
