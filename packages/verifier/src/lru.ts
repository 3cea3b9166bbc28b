/**
 * A bounded map whose entries die at a time of their own: an expired entry goes when it is read, and
 * when the map is full the least recently used one goes, approximately (the CLOCK, or second-chance,
 * algorithm). A hit only sets a flag: moving the entry on every read, as an exact LRU would, costs
 * more than the lookup itself. The entries sit in a ring of `capacity` places that a hand walks when
 * a new key needs one: an entry used since the hand last passed gets a second chance (its flag is
 * cleared), the first one not used is evicted and its place reused. (Evicting the first key of the
 * `Map` in insertion order instead costs V8 a walk over every entry deleted since the table was last
 * rebuilt: about 4 µs a new key at 10,000 entries, where this takes a fraction of one.)
 */
export interface Expiring {
  /** Milliseconds since the epoch after which the entry is never returned. */
  readonly expiresAt: number
}

interface Slot<V> {
  key: string
  value: V
  used: boolean
  /** Its place in the ring. */
  place: number
}

export class ExpiringLRU<V extends Expiring> {
  private readonly map = new Map<string, Slot<V>>()
  /** The ring: every place below its length holds an entry, or is listed in `free`. */
  private readonly ring: (Slot<V> | undefined)[] = []
  /** Places of the ring left empty by deletions, taken before the hand evicts anything. */
  private readonly free: number[] = []
  /** The next place the hand looks at when the ring is full. */
  private hand = 0

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size
  }

  /** The live entry for `key`, or `undefined`; an expired entry is deleted. */
  get(key: string, now: number): V | undefined {
    const slot = this.map.get(key)
    if (slot === undefined) return undefined
    if (now >= slot.value.expiresAt) {
      this.remove(slot)
      return undefined
    }
    slot.used = true
    return slot.value
  }

  set(key: string, value: V): void {
    if (this.capacity <= 0) return
    const existing = this.map.get(key)
    if (existing !== undefined) {
      existing.value = value
      existing.used = false
      return
    }
    const place =
      this.free.pop() ?? (this.ring.length < this.capacity ? this.ring.length : this.evict())
    const slot: Slot<V> = { key, value, used: false, place }
    this.ring[place] = slot
    this.map.set(key, slot)
  }

  /** Deletes every entry for which `predicate` holds; returns how many. */
  deleteWhere(predicate: (entry: V) => boolean): number {
    let deleted = 0
    for (const slot of this.map.values()) {
      if (predicate(slot.value)) {
        this.remove(slot)
        deleted++
      }
    }
    return deleted
  }

  /** Deletes expired entries. */
  prune(now: number): void {
    this.deleteWhere((entry) => now >= entry.expiresAt)
  }

  clear(): void {
    this.map.clear()
    this.ring.length = 0
    this.free.length = 0
    this.hand = 0
  }

  private remove(slot: Slot<V>): void {
    this.map.delete(slot.key)
    this.ring[slot.place] = undefined
    this.free.push(slot.place)
  }

  /**
   * Frees the place of the first entry at or after the hand that was not used since the hand last
   * passed it, clearing the flags it passes: at most one turn of the ring and a step. The ring is
   * full (no free place), so every place holds an entry.
   */
  private evict(): number {
    for (;;) {
      const place = this.hand
      this.hand = place + 1 === this.capacity ? 0 : place + 1
      const slot = this.ring[place]!
      if (slot.used) {
        slot.used = false
        continue
      }
      this.map.delete(slot.key)
      return place
    }
  }
}
