/**
 * Following the authorization server's revocation feed: a Server-Sent Events stream resumed with
 * `Last-Event-ID`, reconnected with capped exponential backoff, or JSON pages polled with `?after=`.
 * Every event is handed to `onEvents`. The follower knows how current it is: `live` once the server
 * said the catch-up is over (`ready`), and since when it is not (`stale()`).
 *
 * A `reload` (the position was pruned at the server) needs nothing special here: the server sends
 * every live event again, and a set of revocations only grows until its events expire.
 *
 * A 401 or 403 means this API's credentials are refused: `refusal` says so, whoever waits for the
 * first catch-up is told at once, and the follower retries with a slower backoff (1 s doubling to
 * 30 s), never in a tight loop that the server's rate limiter would answer by locking the API out.
 */
import { isRefusal, UpstreamError } from './http.js'
import { parseFeedEvent, type FeedEvent } from './revocation_set.js'
import { SSEParser } from './sse.js'

export interface FeedFollowerOptions {
  url: string
  authorization: string
  transport: 'sse' | 'poll'
  pollIntervalMs: number
  heartbeatTimeoutMs: number
  requestTimeoutMs: number
  fetch: typeof fetch
  clock: () => number
  onEvents: (events: FeedEvent[]) => void
  onError: (error: Error) => void
}

const BACKOFF_FIRST_MS = 100
const BACKOFF_MAX_MS = 2000
const REFUSED_BACKOFF_FIRST_MS = 1000
const REFUSED_BACKOFF_MAX_MS = 30_000

/** The error of a feed that refused this API's credentials. */
function refused(status: number): UpstreamError {
  return new UpstreamError(
    `the revocation feed refused this API's credentials (${status})`,
    status,
    { definitive: true },
  )
}

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class FeedFollower {
  /** The last position acknowledged by the server. */
  cursor = 0
  /** Connected and caught up. */
  private live = false
  /** Since when it has not been live (creation time at first). */
  private notLiveSince: number
  private lastByteAt = 0
  private closed = false
  private abort: AbortController | undefined
  private wake: (() => void) | undefined
  private backoff = BACKOFF_FIRST_MS
  private syncedOnce = false
  private readonly waiters = new Set<Waiter>()
  private refusedWith: UpstreamError | undefined
  /** How many connections (or polls) were made. */
  connects = 0

  constructor(private readonly o: FeedFollowerOptions) {
    this.notLiveSince = o.clock()
    void this.run()
  }

  /** Set while the server refuses this API's credentials (its last answer was 401 or 403). */
  get refusal(): UpstreamError | undefined {
    return this.refusedWith
  }

  /** Whether the feed has been caught up at least once. */
  get hasSynced(): boolean {
    return this.syncedOnce
  }

  get isLive(): boolean {
    return this.live
  }

  /** Milliseconds since the feed was last known current; 0 while it is. */
  staleFor(now: number): number {
    return this.live ? 0 : Math.max(0, now - this.notLiveSince)
  }

  /**
   * Resolves at the first catch-up; rejects after `ms`, at once with `refusal` while the credentials
   * are refused, and when the follower is closed. Its timer keeps the process alive: somebody awaits it.
   */
  waitForSync(ms: number): Promise<void> {
    if (this.syncedOnce) return Promise.resolve()
    if (this.refusedWith) return Promise.reject(this.refusedWith)
    if (this.closed) return Promise.reject(new Error('the feed follower is closed'))
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => this.settle(waiter, new Error('timeout')), Math.max(0, ms)),
      }
      this.waiters.add(waiter)
    })
  }

  close(): void {
    this.closed = true
    this.abort?.abort()
    this.wake?.()
    for (const w of this.waiters) this.settle(w, new Error('the feed follower is closed'))
  }

  private settle(waiter: Waiter, err?: Error): void {
    clearTimeout(waiter.timer)
    this.waiters.delete(waiter)
    if (err) waiter.reject(err)
    else waiter.resolve()
  }

  private markLive(): void {
    this.live = true
    this.backoff = BACKOFF_FIRST_MS
    if (!this.syncedOnce) {
      this.syncedOnce = true
      for (const w of this.waiters) this.settle(w)
    }
  }

  /** The server answered: whatever it said, it did not refuse the credentials. */
  private accepted(): void {
    if (this.refusedWith) {
      this.refusedWith = undefined
      this.backoff = BACKOFF_FIRST_MS
    }
  }

  private markLost(at: number): void {
    if (this.live) {
      this.live = false
      this.notLiveSince = at
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      timer.unref?.()
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        if (this.o.transport === 'sse') await this.stream()
        else await this.poll()
      } catch (err) {
        if (this.closed) break
        if (err instanceof UpstreamError && err.definitive) {
          this.refusedWith = err
          this.backoff = Math.max(this.backoff, REFUSED_BACKOFF_FIRST_MS)
          for (const w of this.waiters) this.settle(w, err)
        }
        this.o.onError(err instanceof Error ? err : new Error(String(err)))
      }
      if (this.closed) break
      const delay = this.o.transport === 'poll' && this.live ? this.o.pollIntervalMs : this.backoff
      if (!(this.o.transport === 'poll' && this.live)) {
        const max = this.refusedWith ? REFUSED_BACKOFF_MAX_MS : BACKOFF_MAX_MS
        this.backoff = Math.min(this.backoff * 2, max)
      }
      // ±20% jitter, so that many resource servers do not reconnect in step.
      await this.sleep(delay * (0.8 + Math.random() * 0.4))
    }
    this.live = false
  }

  private async stream(): Promise<void> {
    const abort = new AbortController()
    this.abort = abort
    const headers: Record<string, string> = {
      authorization: this.o.authorization,
      accept: 'text/event-stream',
      'cache-control': 'no-store',
    }
    if (this.cursor > 0) headers['last-event-id'] = String(this.cursor)
    this.connects++
    const connectTimer = setTimeout(() => abort.abort(), this.o.requestTimeoutMs)
    let res: Response
    try {
      res = await this.o.fetch(this.o.url, { headers, signal: abort.signal })
    } catch (cause) {
      throw new UpstreamError('revocation feed: connecting failed', undefined, { cause })
    } finally {
      clearTimeout(connectTimer)
    }
    const type = res.headers.get('content-type') ?? ''
    if (res.status !== 200 || !type.startsWith('text/event-stream') || !res.body) {
      await res.body?.cancel().catch(() => {})
      if (isRefusal(res.status)) throw refused(res.status)
      this.accepted()
      throw new UpstreamError(`revocation feed answered ${res.status}`, res.status)
    }
    this.accepted()
    this.lastByteAt = this.o.clock()
    // A stream that goes silent (no heartbeat) is as good as cut: give up on it.
    const watchdog = setInterval(
      () => {
        if (this.o.clock() - this.lastByteAt > this.o.heartbeatTimeoutMs) abort.abort()
      },
      Math.min(1000, this.o.heartbeatTimeoutMs / 2),
    )
    watchdog.unref?.()
    const parser = new SSEParser()
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body) {
        this.lastByteAt = this.o.clock()
        const batch: FeedEvent[] = []
        for (const message of parser.push(decoder.decode(chunk as Uint8Array, { stream: true }))) {
          if (message.event === 'message') {
            const event = parseJSONEvent(message.data)
            if (event) batch.push(event)
          } else if (message.event === 'ready') {
            if (batch.length > 0) this.deliver(batch.splice(0))
            this.markLive()
          }
          if (message.id !== undefined && /^[0-9]+$/.test(message.id)) {
            this.cursor = Number(message.id)
          }
        }
        if (batch.length > 0) this.deliver(batch)
      }
      if (!this.closed) throw new UpstreamError('revocation feed: the server ended the stream')
    } catch (err) {
      if (this.closed) return
      // Cut by the watchdog: the feed was last heard of at the last byte.
      this.markLost(abort.signal.aborted ? this.lastByteAt : this.o.clock())
      throw err instanceof UpstreamError
        ? err
        : new UpstreamError('revocation feed: the stream broke', undefined, { cause: err })
    } finally {
      clearInterval(watchdog)
      this.markLost(this.o.clock())
    }
  }

  private async poll(): Promise<void> {
    for (;;) {
      const url = `${this.o.url}?after=${this.cursor}`
      this.connects++
      let res: Response
      let body: unknown
      const abort = new AbortController()
      this.abort = abort
      try {
        res = await this.o.fetch(url, {
          headers: { authorization: this.o.authorization, accept: 'application/json' },
          signal: AbortSignal.any([abort.signal, AbortSignal.timeout(this.o.requestTimeoutMs)]),
        })
        if (isRefusal(res.status)) {
          await res.body?.cancel().catch(() => {})
          this.markLost(this.lastByteAt)
          throw refused(res.status)
        }
        this.accepted()
        body = await res.json()
      } catch (cause) {
        if (cause instanceof UpstreamError) throw cause
        this.markLost(this.lastByteAt)
        throw new UpstreamError('revocation feed: polling failed', undefined, { cause })
      }
      if (res.status !== 200 || typeof body !== 'object' || body === null) {
        this.markLost(this.lastByteAt)
        throw new UpstreamError(`revocation feed answered ${res.status}`, res.status)
      }
      const page = body as { events?: unknown; next?: unknown; more?: unknown }
      const events = Array.isArray(page.events) ? page.events.map(parseFeedEvent) : []
      const valid = events.filter((e): e is FeedEvent => e !== null)
      if (valid.length > 0) this.deliver(valid)
      if (typeof page.next === 'number' && Number.isSafeInteger(page.next)) this.cursor = page.next
      this.lastByteAt = this.o.clock()
      if (page.more !== true) {
        this.markLive()
        return
      }
    }
  }

  private deliver(events: FeedEvent[]): void {
    try {
      this.o.onEvents(events)
    } catch (err) {
      this.o.onError(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

function parseJSONEvent(data: string): FeedEvent | null {
  try {
    return parseFeedEvent(JSON.parse(data))
  } catch {
    return null
  }
}
