/**
 * The one reader of the revocation store in a server process. It polls `listRevocations` for events
 * past the last one it saw (SQLite: another process, such as the CLI, may have written them) and hands
 * each batch, in `seq` order, to its listeners: the feed's open streams. A write made by this process
 * can `poke()` it to read at once instead of at the next tick, and so does the store when another
 * process appends, where the engine can tell (`watchRevocations`: PostgreSQL LISTEN/NOTIFY).
 *
 * A failed read is reported to the listeners (`onError`) so that they can end their streams: a feed
 * that cannot read the store must not look healthy to the resource servers that follow it.
 */
import type { Logger } from 'pino'
import type { RevocationEvent, RevocationStore } from '../store/types.js'

/** Events read from the store per query. */
const BATCH = 500

export interface FollowerListener {
  /** New events, ascending by `seq`, each delivered once. */
  onEvents(events: readonly RevocationEvent[]): void
  /** Reading the store failed; events may be missing until the next successful read. */
  onError(): void
}

export interface RevocationFollowerOptions {
  /** Milliseconds between two reads of the store. */
  pollMs: number
  logger: Logger
}

export class RevocationFollower {
  private lastSeq = 0
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  private again = false
  private running = false
  private failing = false
  private readonly listeners = new Set<FollowerListener>()
  private unwatch: (() => Promise<void>) | undefined
  /**
   * `performance.now()` when the last read of the store that succeeded began: a monotonic clock, so
   * that a wall clock set back cannot make a follower that no longer reads the store look fresh.
   */
  private lastReadAt = 0
  /** Callers of `sync()` waiting for a read that has not begun yet, and for the one under way. */
  private waitingForNext: (() => void)[] = []
  private waitingForCurrent: (() => void)[] = []

  constructor(
    private readonly store: RevocationStore,
    private readonly options: RevocationFollowerOptions,
  ) {}

  /** The highest `seq` delivered so far. */
  get head(): number {
    return this.lastSeq
  }

  /**
   * Reads every event in the store (expired ones are pruned, so every live one), delivering them to
   * the listeners subscribed so far (a copy of the feed that must be complete subscribes before the
   * start; a stream of new events subscribes after it), then polls.
   */
  async start(): Promise<void> {
    if (this.running) return
    const startedAt = performance.now()
    for (;;) {
      const page = await this.store.listRevocations(this.lastSeq, BATCH)
      if (page.length === 0) break
      this.lastSeq = page[page.length - 1]!.seq
      this.deliver(page)
    }
    this.lastReadAt = startedAt
    this.running = true
    // PostgreSQL: LISTEN/NOTIFY wakes us when any node appends; polling stays as the fallback.
    this.unwatch = this.store.watchRevocations?.(() => this.poke())
    this.schedule()
  }

  /** Stops polling. Listeners stay registered; nothing more is delivered. */
  async stop(): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    const unwatch = this.unwatch
    this.unwatch = undefined
    await unwatch?.()
    await this.polling
    for (const resolve of this.waitingForNext.splice(0)) resolve()
  }

  /**
   * Whether the last successful read of the store is at most `maxAgeMs` old (every event appended
   * before then has been delivered) and the last read did not fail. A follower that cannot read the
   * store goes stale: at once when a read fails (a refused connection: at the next poll or wake-up),
   * after `maxAgeMs` when reads hang.
   */
  isFresh(maxAgeMs: number): boolean {
    return this.running && !this.failing && performance.now() - this.lastReadAt <= maxAgeMs
  }

  /**
   * Resolves once a read of the store that began after this call has ended (whether it succeeded or
   * not): by then every event committed before the call has been delivered to the listeners, unless
   * the read failed. A write made by this process calls it so that its own event is known here
   * before its response goes out.
   */
  sync(): Promise<void> {
    if (!this.running) return Promise.resolve()
    return new Promise((resolve) => {
      this.waitingForNext.push(resolve)
      this.poke()
    })
  }

  /** Reads now rather than at the next tick (after a revocation written by this process). */
  poke(): void {
    if (!this.running) return
    if (this.polling) {
      this.again = true
      return
    }
    clearTimeout(this.timer)
    this.timer = undefined
    this.poll()
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: FollowerListener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  private schedule(): void {
    if (!this.running) return
    this.timer = setTimeout(() => this.poll(), this.options.pollMs)
    this.timer.unref()
  }

  private poll(): void {
    this.timer = undefined
    this.waitingForCurrent = this.waitingForNext
    this.waitingForNext = []
    this.polling = this.readNew()
      .catch((err: unknown) => {
        if (!this.failing) this.options.logger.error({ err }, 'revocation feed: reading failed')
        this.failing = true
        for (const listener of [...this.listeners]) listener.onError()
      })
      .finally(() => {
        this.polling = undefined
        for (const resolve of this.waitingForCurrent.splice(0)) resolve()
        if ((this.again || this.waitingForNext.length > 0) && this.running) {
          this.again = false
          this.poll()
        } else {
          this.schedule()
        }
      })
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const startedAt = performance.now()
      const page = await this.store.listRevocations(this.lastSeq, BATCH)
      // Everything committed before the query began is in `page` or was delivered already.
      this.lastReadAt = startedAt
      if (this.failing) {
        this.failing = false
        this.options.logger.info('revocation feed: reading again')
      }
      if (page.length === 0 || !this.running) return
      this.lastSeq = page[page.length - 1]!.seq
      this.deliver(page)
      if (page.length < BATCH) return
    }
  }

  private deliver(page: readonly RevocationEvent[]): void {
    for (const listener of [...this.listeners]) {
      try {
        listener.onEvents(page)
      } catch (err) {
        this.options.logger.error({ err }, 'revocation feed: a listener failed')
      }
    }
  }
}
