/**
 * Live opaque access tokens held in this process after their first lookup, so that introspecting the
 * same token again reads neither the database nor Redis. Under the rules of `cache_guard.ts`: an entry
 * records the follower's position before its record was read, and is used only while no revocation
 * event that could cover it (its hash, session, subject or client) is newer, and while the follower
 * reads the store; a token revoked on this node is dropped before the revocation is acknowledged, one
 * revoked elsewhere (another node, the CLI) as soon as this node's follower reads the event.
 *
 * The writes that drop an entry are those `invalidation.ts` declares as invalidating a token.
 *
 * Bounded: at most `capacity` entries, the least recently used dropped first; an expired entry is
 * dropped when met.
 * Only tokens that were found are remembered, so unknown tokens cannot fill it.
 */
import { BoundedCache } from '../cache/bounded.js'
import { tokenCovers, type CacheGuard } from './cache_guard.js'
import { afterWrites, invalidated, methodsInvalidating } from './invalidation.js'
import type { OpaqueTokenRecord, Store } from './types.js'

export type MemoLookup = 'hit' | 'miss' | 'stale'

export class TokenMemo {
  private readonly entries: BoundedCache<string, { s: number; r: OpaqueTokenRecord }>
  onLookup: (result: MemoLookup) => void = () => {}

  constructor(
    private readonly guard: CacheGuard,
    capacity: number,
  ) {
    this.entries = new BoundedCache(capacity)
    guard.onEvent((e) => {
      if (e.kind === 'token') this.entries.delete(e.value)
    })
  }

  /** The store, with `findToken` answered from memory and the writes that name a token dropping it. */
  wrap(store: Store): Store {
    const wrapped = afterWrites(store, methodsInvalidating('token'), (method, args, result) => {
      const hash = invalidated('token', method, args, result)
      if (hash) this.entries.delete(hash)
    })
    return Object.assign(wrapped, {
      findToken: (hash: string, now: number) => this.findToken(store, hash, now),
    })
  }

  private async findToken(
    store: Store,
    hash: string,
    now: number,
  ): Promise<OpaqueTokenRecord | null> {
    const entry = this.entries.get(hash)
    if (entry !== undefined) {
      if (this.guard.usable(entry.s, tokenCovers(entry.r))) {
        this.onLookup('hit')
        // Live while now < expiresAt, as the engines decide.
        if (now < entry.r.expiresAt) return entry.r
        this.entries.delete(hash)
        return null
      }
      this.onLookup('stale')
      this.entries.delete(hash)
    } else {
      this.onLookup('miss')
    }
    const s = this.guard.positionBeforeRead()
    const record = await store.findToken(hash, now)
    if (record !== null && s !== undefined) this.entries.set(hash, { s, r: record })
    return record
  }
}
