/**
 * The revocation feed's Server-Sent Events streams (WHATWG HTML §9.2): one `FeedStreams` per app holds
 * every open stream, fans the follower's events out to them, writes a heartbeat comment to each on a
 * shared timer, and ends them all when the server closes.
 *
 * On the wire, per event: `id: <seq>` then `data: <JSON>`, so that a reconnecting `EventSource` sends
 * `Last-Event-ID` by itself. Two named events: `reload` (the reader's position was pruned; every live
 * event follows) and `ready` (the catch-up is over; what follows is live), which carries the position
 * reached as its id.
 */
import type { ServerResponse } from 'node:http'
import type { RevocationEvent } from '../store/types.js'
import { toWire } from '../store/revocation_wire.js'
import type { RevocationFollower } from './revocation_follower.js'

/** How long a reader should wait before reconnecting, sent as `retry:`. */
const RETRY_MS = 1000
/** A stream whose unsent output passes this is too slow: it is ended, and resumes on reconnect. */
const MAX_BUFFERED_BYTES = 1024 * 1024

function eventFrame(e: RevocationEvent): string {
  return `id: ${e.seq}\ndata: ${JSON.stringify(toWire(e))}\n\n`
}

/** One open stream. Events arriving during its catch-up are held and sent after it, in order. */
class FeedStream {
  /** The highest seq written: nothing at or below it is written again. */
  private sent: number
  /** Live events that arrived before the catch-up was written; `null` once it was. */
  private held: RevocationEvent[] | null = []
  /** Ended by the server (closing, or the store failing) before its catch-up was written. */
  private cancelled = false

  constructor(
    private readonly res: ServerResponse,
    cursor: number,
  ) {
    this.sent = cursor
  }

  get open(): boolean {
    return !this.cancelled && !this.res.destroyed && !this.res.writableEnded
  }

  /** Live events from the follower. */
  push(events: readonly RevocationEvent[]): void {
    if (this.held) this.held.push(...events)
    else this.writeEvents(events)
  }

  /**
   * Sends the headers, the catch-up, what was held meanwhile, then `ready`; from here on events go out
   * live. A stream cancelled during its catch-up is cut instead, and the reader reconnects.
   */
  start(events: readonly RevocationEvent[], reload: { prunedThrough: number } | null): void {
    if (this.cancelled) {
      this.res.destroy()
      return
    }
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
      // Tells nginx and similar proxies not to buffer the stream.
      'x-accel-buffering': 'no',
    })
    let out = `retry: ${RETRY_MS}\n\n`
    if (reload) {
      out += `event: reload\ndata: ${JSON.stringify({ pruned_through: reload.prunedThrough })}\n\n`
      // Every live event goes out again, whatever the reader's position was.
      this.sent = 0
    }
    this.write(out)
    this.writeEvents(events)
    if (reload) this.sent = Math.max(this.sent, reload.prunedThrough)
    const held = this.held ?? []
    this.held = null
    this.writeEvents(held)
    // With an id, so that a reader's Last-Event-ID moves past a reload's mark even when no live event
    // above it exists.
    const id = this.sent > 0 ? `id: ${this.sent}\n` : ''
    this.write(`${id}event: ready\ndata: ${JSON.stringify({ seq: this.sent })}\n\n`)
  }

  heartbeat(): void {
    if (!this.held) this.write(': heartbeat\n\n')
  }

  end(): void {
    if (this.held) this.cancelled = true
    else if (this.open) this.res.end()
  }

  private writeEvents(events: readonly RevocationEvent[]): void {
    let out = ''
    for (const e of events) {
      if (e.seq <= this.sent) continue
      out += eventFrame(e)
      this.sent = e.seq
    }
    if (out) this.write(out)
  }

  private write(chunk: string): void {
    if (!this.open) return
    if (this.res.writableLength > MAX_BUFFERED_BYTES) {
      // A reader this far behind resumes from its Last-Event-ID when it reconnects.
      this.res.destroy()
      return
    }
    this.res.write(chunk)
  }
}

export interface FeedStreamsOptions {
  heartbeatMs: number
  maxStreams: number
}

/** Every open feed stream of one app. */
export class FeedStreams {
  private readonly streams = new Set<FeedStream>()
  private readonly heartbeat: NodeJS.Timeout
  private readonly unsubscribe: () => void

  constructor(
    follower: RevocationFollower,
    private readonly options: FeedStreamsOptions,
  ) {
    this.unsubscribe = follower.subscribe({
      onEvents: (events) => {
        for (const stream of this.streams) stream.push(events)
      },
      // The store cannot be read: end every stream rather than let readers believe they are current.
      // Each reconnects, and either catches up or sees the outage and counts its staleness.
      onError: () => this.closeAll(),
    })
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.heartbeat()
    }, options.heartbeatMs)
    this.heartbeat.unref()
  }

  get size(): number {
    return this.streams.size
  }

  get full(): boolean {
    return this.streams.size >= this.options.maxStreams
  }

  /**
   * Registers a stream on `res` (headers not yet sent) that has seen everything up to `cursor`. Live
   * events are held until `start` is called with the catch-up read from the store; `discard` forgets
   * the stream without touching `res` (the catch-up failed and an error response goes out instead).
   */
  open(
    res: ServerResponse,
    cursor: number,
  ): {
    start(events: readonly RevocationEvent[], reload: { prunedThrough: number } | null): void
    discard(): void
  } {
    const stream = new FeedStream(res, cursor)
    this.streams.add(stream)
    const remove = (): void => {
      this.streams.delete(stream)
    }
    // A reader that goes away (or a socket error) only removes its stream: nothing is thrown.
    res.on('close', remove)
    res.on('error', remove)
    return { start: (events, reload) => stream.start(events, reload), discard: remove }
  }

  /** Ends every stream and stops the heartbeat (the server is closing). */
  closeAll(): void {
    for (const stream of this.streams) stream.end()
    this.streams.clear()
  }

  dispose(): void {
    clearInterval(this.heartbeat)
    this.unsubscribe()
    this.closeAll()
  }
}
