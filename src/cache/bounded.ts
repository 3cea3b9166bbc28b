/**
 * The one bounded in-memory cache of the server: at most `capacity` entries, the least recently used
 * one dropped when a new key arrives, and optionally an expiry per entry. Every process-local cache
 * (clients, verified secrets, opaque tokens) is one of these, so none can grow without bound and none
 * can be emptied by a stream of keys it has never seen: a key used since the last `capacity` new keys
 * arrived is still there.
 *
 * A `Map` from key to entry, and the entries in a doubly linked list from the least to the most
 * recently used: a hit moves its entry to the end and a new key past the capacity drops the first,
 * each a few pointer moves. (Taking the first key of a `Map` in insertion order instead costs V8 a
 * walk over every entry deleted since the table was last rebuilt, about 4 µs a new key at 10,000
 * entries.) Recency is exact, not the verifier SDK's CLOCK approximation
 * (`packages/verifier/src/lru.ts`): that keeps eviction simple to state and to check against a model.
 */

interface Slot<K, V> {
  key: K
  value: V
  /** The caller's clock value from which the entry is never returned; `undefined`: no expiry. */
  expiresAt: number | undefined
  /** The next less recently used entry (`null`: this is the least recently used). */
  older: Slot<K, V> | null
  /** The next more recently used entry (`null`: this is the most recently used). */
  newer: Slot<K, V> | null
}

export class BoundedCache<K, V> {
  private readonly map = new Map<K, Slot<K, V>>()
  /** The least recently used entry. */
  private oldest: Slot<K, V> | null = null
  /** The most recently used entry. */
  private newest: Slot<K, V> | null = null

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
    if (slot.expiresAt !== undefined && now !== undefined && now >= slot.expiresAt) {
      this.remove(slot)
      return undefined
    }
    this.unlink(slot)
    this.append(slot)
    return slot.value
  }

  /**
   * Stores `value` under `key` as the most recently used entry, dropping the least recently used one
   * when the cache is full. `expiresAt`: from when (same clock as `get`'s `now`) it is never returned.
   */
  set(key: K, value: V, expiresAt?: number): void {
    if (this.capacity === 0) return
    const existing = this.map.get(key)
    if (existing !== undefined) {
      existing.value = value
      existing.expiresAt = expiresAt
      this.unlink(existing)
      this.append(existing)
      return
    }
    if (this.map.size >= this.capacity && this.oldest !== null) this.remove(this.oldest)
    const slot: Slot<K, V> = { key, value, expiresAt, older: null, newer: null }
    this.map.set(key, slot)
    this.append(slot)
  }

  /** Drops the entry under `key`; whether there was one. */
  delete(key: K): boolean {
    const slot = this.map.get(key)
    if (slot === undefined) return false
    this.remove(slot)
    return true
  }

  /**
   * Drops every entry whose value `matches` (one event naming many entries, such as a revoked
   * session); how many. Linear in the size: for rare events, never per request.
   */
  deleteWhere(matches: (value: V) => boolean): number {
    let dropped = 0
    for (const slot of this.map.values()) {
      if (matches(slot.value)) {
        this.remove(slot)
        dropped++
      }
    }
    return dropped
  }

  /** The keys, least recently used first (for tests and diagnostics; does not count as a use). */
  keys(): K[] {
    const out: K[] = []
    for (let slot = this.oldest; slot !== null; slot = slot.newer) out.push(slot.key)
    return out
  }

  private remove(slot: Slot<K, V>): void {
    this.map.delete(slot.key)
    this.unlink(slot)
  }

  private unlink(slot: Slot<K, V>): void {
    if (slot.older === null) this.oldest = slot.newer
    else slot.older.newer = slot.newer
    if (slot.newer === null) this.newest = slot.older
    else slot.newer.older = slot.older
    slot.older = slot.newer = null
  }

  /** Links `slot` (unlinked) in as the most recently used. */
  private append(slot: Slot<K, V>): void {
    slot.older = this.newest
    if (this.newest === null) this.oldest = slot
    else this.newest.newer = slot
    this.newest = slot
  }
}
