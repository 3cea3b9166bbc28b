/**
 * Throttling of failures (client authentications, logins): a fixed window per key. A key that reaches
 * its limit is refused until its window ends, then starts afresh, so a real client is never locked out
 * for good.
 *
 * With `serve --workers N`, every worker holds one and tells the others of each change it makes
 * (`onChange`, sent fire-and-forget through the primary) and applies theirs (`apply`), so that the
 * limits hold for the whole cluster and not N times over. Only changes travel: a check (`retryAfter`)
 * stays local, and a request whose credentials are recalled or cached changes nothing.
 */

/** One change to a limiter, as sent to its siblings: what, for which key, at what time. */
export type LimiterChange = readonly ['fail' | 'forgive' | 'clear', string, number]

export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>()
  /** Told of every change made here (not of those applied from siblings). */
  onChange: ((change: LimiterChange) => void) | undefined

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

  /** Applies a change made by a sibling's limiter, without telling `onChange`. */
  apply([what, key, time]: LimiterChange): void {
    if (what === 'fail') this.count(key, time)
    else if (what === 'forgive') this.uncount(key, time)
    else this.clear(key, time)
  }

  /** Counts a failure for `key`. */
  fail(key: string, now: number): void {
    this.count(key, now)
    this.onChange?.(['fail', key, now])
  }

  private count(key: string, now: number): void {
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
    this.uncount(key, now)
    this.onChange?.(['forgive', key, now])
  }

  private uncount(key: string, now: number): void {
    const w = this.windows.get(key)
    if (w && w.start <= now && now < w.start + this.windowSeconds && w.failures > 0) w.failures--
  }

  /**
   * Forgets the window of `key` when it began at or before `time` (an unlock at `time` forgives the
   * failures counted so far). A window begun before but filled after is forgiven too, once: after it
   * the key starts afresh.
   */
  clearStartedBy(key: string, time: number): void {
    this.clear(key, time)
    this.onChange?.(['clear', key, time])
  }

  private clear(key: string, time: number): void {
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
