/**
 * What keeps a cache of store records from ever serving something revoked: the node's revocation
 * follower, seen as a guard. Shared by the in-process token cache (`token_memo.ts`) and the Redis
 * cache (`redis/cache.ts`).
 *
 * The rule, for any cached record:
 * 1. Each entry carries `s`, the follower's position (`head`) taken *before* the record was read from
 *    the store: the record reflects every revocation event up to `s`.
 * 2. The guard keeps the newest `seq` of every revoked token, session, user, client and key it has
 *    read since it was attached. An entry is `usable` only when no event that could cover it is newer
 *    than its `s`, and when `s` is not older than the position where the guard began (older events are
 *    not in it). Anything else must be read from the store again.
 * 3. While the follower cannot read the store (its last read failed, or its last successful read is
 *    older than `maxStaleMs`), nothing is usable: a node that cannot hear revocations does not trust
 *    its caches, and a node whose store is down answers 503 as without them.
 * So an entry is refused on a node as soon as its follower has read the event that covers it: the
 * feed's own delay (PostgreSQL LISTEN/NOTIFY or Redis pub/sub: milliseconds; SQLite: the poll).
 */

import { afterRevokingWrites } from './revoking_writes.js'
import type { OpaqueTokenRecord, RevocationEvent, Store } from './types.js'

/** What the guard needs of the node's revocation follower (`server/revocation_follower.ts`). */
export interface FollowerView {
  /** The newest `seq` delivered to the listeners. */
  readonly head: number
  isFresh(maxAgeMs: number): boolean
  /** Resolves once a read begun after the call has ended. */
  sync(): Promise<void>
  subscribe(listener: {
    onEvents(events: readonly RevocationEvent[]): void
    onError(): void
  }): () => void
}

/** Events outlive their own expiry in the guard by this much (ms) beyond the longest entry life. */
const MARGIN_MS = 5_000
const PRUNE_EVERY_MS = 10_000

export class CacheGuard {
  /** Newest event seq per `kind:value`, and until when it must be remembered (ms). */
  private readonly seqs = new Map<string, { seq: number; keepUntil: number }>()
  private feed: FollowerView | undefined
  private maxStaleMs = 1000
  private trustedFrom = Infinity
  private lastPrune = 0
  private unsubscribe: (() => void) | undefined
  private readonly listeners = new Set<(event: RevocationEvent) => void>()
  /** The newest `kid` event: a change of the published keys. */
  newestKidSeq = 0

  /** @param longestEntryMs the longest any cache keeps an entry (events are kept at least that long). */
  constructor(private readonly longestEntryMs: number) {}

  /**
   * Starts guarding from the follower's current position: entries read from now on may be used. Until
   * then nothing is usable.
   */
  attach(feed: FollowerView, maxStaleMs: number): void {
    this.feed = feed
    this.maxStaleMs = maxStaleMs
    this.trustedFrom = feed.head
    this.unsubscribe = feed.subscribe({
      onEvents: (events) => this.learn(events),
      onError: () => {},
    })
  }

  detach(): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.feed = undefined
    this.trustedFrom = Infinity
  }

  /** The position to record in an entry about to be read from the store; `undefined`: do not cache. */
  positionBeforeRead(): number | undefined {
    return this.isFresh() ? this.feed?.head : undefined
  }

  /** Whether cached entries may be used at all now (rule 3). */
  isFresh(): boolean {
    return this.feed !== undefined && this.feed.isFresh(this.maxStaleMs)
  }

  /** Whether an entry read at position `s`, covered by the events named in `covers`, may be used. */
  usable(s: number, covers: readonly string[], floor = 0): boolean {
    if (s < this.trustedFrom || s < floor || !this.isFresh()) return false
    for (const name of covers) if ((this.seqs.get(name)?.seq ?? 0) > s) return false
    return true
  }

  /** Resolves once this node's follower has read every event committed before the call. */
  async sync(): Promise<void> {
    await this.feed?.sync()
  }

  /** Calls `listener` for each new event, after the guard has taken it in. */
  onEvent(listener: (event: RevocationEvent) => void): void {
    this.listeners.add(listener)
  }

  private learn(events: readonly RevocationEvent[]): void {
    const now = Date.now()
    for (const e of events) {
      const name = `${e.kind}:${e.value}`
      const keepUntil = Math.max(e.expiresAt * 1000, now) + this.longestEntryMs + MARGIN_MS
      const known = this.seqs.get(name)
      this.seqs.set(name, {
        seq: Math.max(known?.seq ?? 0, e.seq),
        keepUntil: Math.max(known?.keepUntil ?? 0, keepUntil),
      })
      if (e.kind === 'kid') this.newestKidSeq = Math.max(this.newestKidSeq, e.seq)
      for (const listener of this.listeners) listener(e)
    }
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now
      for (const [name, { keepUntil }] of this.seqs) if (keepUntil < now) this.seqs.delete(name)
    }
  }
}

/** The events that could cover an opaque access token: itself, its client, its subject, its session. */
export function tokenCovers(r: OpaqueTokenRecord): string[] {
  const names = [`token:${r.hash}`, `client:${r.clientId}`, `sub:${r.sub}`]
  if (r.sid !== null) names.push(`sid:${r.sid}`)
  return names
}

/**
 * The store, with every write that appends a revocation event waiting, before it resolves, for this
 * node's follower to have read that event: the guard (so every cache of this node) refuses what it
 * covers before the response that acknowledges the revocation goes out.
 */
export function syncingRevocations(store: Store, guard: CacheGuard): Store {
  return afterRevokingWrites(store, () => guard.sync())
}
