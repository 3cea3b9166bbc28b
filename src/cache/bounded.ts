/**
 * The one bounded in-memory cache of the server: at most `capacity` entries, the least recently used
 * one dropped when a new key arrives, and optionally an expiry per entry. Every process-local cache
 * (clients, verified secrets, opaque tokens) is one of these, so none can grow without bound and none
 * can be emptied by a stream of keys it has never seen: a key used since the last `capacity` new keys
 * arrived is still there.
 *
 * The same shape as the verifier SDK's cache (`packages/verifier/src/lru.ts`): a JavaScript `Map`,
 * whose iteration order is insertion order, so its first key is the least recently used one. Unlike
 * the SDK's CLOCK approximation, recency here is exact: a hit moves the entry to the end (a Map delete
 * and insert, O(1)), which keeps eviction simple to state and to check against a model, at a cost of
 * well under a microsecond per hit.
 */

interface Slot<V> {
  value: V
  /** The caller's clock value from which the entry is never returned; `undefined`: no expiry. */
  expiresAt: number | undefined
}

export class BoundedCache<K, V> {
  private readonly map = new Map<K, Slot<V>>()

  /** @param capacity the most entries kept (0 keeps none). */
  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError('capacity must be a non-negative integer')
    }
  }

  get size(): number {
    return this.map.size
  }

  /**
   * The value under `key`, now the most recently used; `undefined` when absent or expired at `now`
   * (in the unit of the `expiresAt` given to `set`), an expired entry being deleted.
   */
  get(key: K, now?: number): V | undefined {
    const slot = this.map.get(key)
    if (slot === undefined) return undefined
    this.map.delete(key)
    if (slot.expiresAt !== undefined && now !== undefined && now >= slot.expiresAt) return undefined
    this.map.set(key, slot)
    return slot.value
  }

  /**
   * Stores `value` under `key` as the most recently used entry, dropping the least recently used one
   * when the cache is full. `expiresAt`: from when (same clock as `get`'s `now`) it is never returned.
   */
  set(key: K, value: V, expiresAt?: number): void {
    if (this.capacity === 0) return
    this.map.delete(key)
    if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next()
      if (!oldest.done) this.map.delete(oldest.value)
    }
    this.map.set(key, { value, expiresAt })
  }

  /** Drops the entry under `key`; whether there was one. */
  delete(key: K): boolean {
    return this.map.delete(key)
  }

  /**
   * Drops every entry whose value `matches` (one event naming many entries, such as a revoked
   * session); how many. Linear in the size: for rare events, never per request.
   */
  deleteWhere(matches: (value: V) => boolean): number {
    let dropped = 0
    for (const [key, slot] of this.map) {
      if (matches(slot.value)) {
        this.map.delete(key)
        dropped++
      }
    }
    return dropped
  }

  /** The keys, least recently used first (for tests and diagnostics; does not count as a use). */
  keys(): K[] {
    return [...this.map.keys()]
  }
}
