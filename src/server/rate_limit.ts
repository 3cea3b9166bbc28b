/**
 * Throttling of failures (client authentications now, logins later): a fixed window per key. A key
 * that reaches its limit is refused until its window ends, then starts afresh, so a real client is
 * never locked out for good.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>()

  constructor(
    private readonly windowSeconds: number,
    private readonly maxEntries = 100_000,
  ) {}

  /** Seconds until `key` may try again after reaching `limit` failures; 0 when it may try now. */
  retryAfter(key: string, limit: number, now: number): number {
    const w = this.windows.get(key)
    if (!w) return 0
    const end = w.start + this.windowSeconds
    if (now >= end) {
      this.windows.delete(key)
      return 0
    }
    return w.failures >= limit ? end - now : 0
  }

  /** Counts a failure for `key`. */
  fail(key: string, now: number): void {
    const w = this.windows.get(key)
    if (w && now < w.start + this.windowSeconds) {
      w.failures++
      return
    }
    if (this.windows.size >= this.maxEntries) this.sweep(now)
    this.windows.set(key, { start: now, failures: 1 })
  }

  /**
   * Takes back one failure counted for `key` in its current window: lets a caller count an attempt
   * before the (slow) check, so that parallel attempts cannot all slip under the limit, and forgive it
   * when the check succeeds. `now` is the time it was counted: a window begun since is left alone.
   */
  forgive(key: string, now: number): void {
    const w = this.windows.get(key)
    if (w && w.start <= now && now < w.start + this.windowSeconds && w.failures > 0) w.failures--
  }

  /**
   * Forgets the window of `key` when it began at or before `time` (an unlock at `time` forgives the
   * failures counted so far). A window begun before but filled after is forgiven too, once: after it
   * the key starts afresh.
   */
  clearStartedBy(key: string, time: number): void {
    const w = this.windows.get(key)
    if (w && w.start <= time) this.windows.delete(key)
  }

  /** Forgets ended windows; when still full, the oldest entries. */
  sweep(now: number): void {
    for (const [key, w] of this.windows) {
      if (now >= w.start + this.windowSeconds) this.windows.delete(key)
    }
    let excess = this.windows.size - Math.floor(this.maxEntries * 0.9)
    for (const key of this.windows.keys()) {
      if (excess-- <= 0) break
      this.windows.delete(key)
    }
  }
}
