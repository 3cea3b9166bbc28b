/**
 * A bounded map whose entries die at a time of their own: an expired entry goes when it is read, and
 * when the map is full the least recently used one goes, approximately (the CLOCK, or second-chance,
 * algorithm). A hit only sets a flag: moving the entry in the Map on every read, as an exact LRU
 * would, costs a Map delete and insert, far more than the lookup itself. Eviction walks from the
 * oldest insertion; an entry used since it was last passed gets a second chance at the end.
 */
export interface Expiring {
  /** Milliseconds since the epoch after which the entry is never returned. */
  readonly expiresAt: number
}

interface Slot<V> {
  value: V
  used: boolean
}

export class ExpiringLRU<V extends Expiring> {
  private readonly map = new Map<string, Slot<V>>()

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size
  }

  /** The live entry for `key`, or `undefined`; an expired entry is deleted. */
  get(key: string, now: number): V | undefined {
    const slot = this.map.get(key)
    if (slot === undefined) return undefined
    if (now >= slot.value.expiresAt) {
      this.map.delete(key)
      return undefined
    }
    slot.used = true
    return slot.value
  }

  set(key: string, value: V): void {
    if (this.capacity <= 0) return
    this.map.delete(key)
    this.map.set(key, { value, used: false })
    // Bounded work per insert: each entry passed over loses its flag, so a second pass evicts.
    while (this.map.size > this.capacity) {
      const oldest = this.map.entries().next()
      if (oldest.done) return
      const [oldestKey, slot] = oldest.value
      this.map.delete(oldestKey)
      if (slot.used) {
        slot.used = false
        this.map.set(oldestKey, slot)
      }
    }
  }

  /** Deletes every entry for which `predicate` holds; returns how many. */
  deleteWhere(predicate: (entry: V) => boolean): number {
    let deleted = 0
    for (const [key, slot] of this.map) {
      if (predicate(slot.value)) {
        this.map.delete(key)
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
  }
}
