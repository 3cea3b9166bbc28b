/**
 * The JWTs minted for opaque tokens at the phantom-token endpoint (`endpoints/phantom.ts`), kept per
 * opaque token (its hash) so that a gateway asking again for the same token costs no signature.
 *
 * Never the reason a revoked token passes: the endpoint resolves the opaque token through the store
 * (and its guarded caches) on every request, checks the shared `jti`, and takes an entry only when it
 * was signed by the current key for the same audience. This cache only saves the signing. Still, an
 * entry is dropped as soon as this node's revocation follower reads an event naming its opaque token,
 * `jti`, session, subject, client or signing key, so that nothing revoked stays in memory.
 *
 * Bounded (`cache/bounded.ts`): at most `capacity` entries, the least recently used dropped first;
 * only tokens that resolved are remembered, so unknown tokens cannot fill it.
 */
import { BoundedCache } from '../cache/bounded.js'
import type { RevocationEvent } from '../store/types.js'

export interface PhantomEntry {
  /** The signed JWT. */
  jwt: string
  /** Its `exp`, seconds since the epoch. */
  exp: number
  /** Its `aud`: the API behind the gateway that asked. */
  aud: string
  /** The key that signed it. */
  kid: string
  /** The revocation events that cover it, as `kind:value`. */
  covers: readonly string[]
}

/** A JWT with less life left than this (seconds) is minted again rather than forwarded. */
export const MIN_REMAINING_SECONDS = 30

export class PhantomCache {
  private readonly entries: BoundedCache<string, PhantomEntry>

  constructor(capacity: number) {
    this.entries = new BoundedCache(capacity)
  }

  get size(): number {
    return this.entries.size
  }

  /**
   * The JWT for the opaque token `hash`, when one was minted for `aud` with the key `kid` and lives at
   * least `MIN_REMAINING_SECONDS` more at `now`.
   */
  get(hash: string, aud: string, kid: string, now: number): string | undefined {
    const entry = this.entries.get(hash)
    if (entry === undefined) return undefined
    if (entry.aud !== aud || entry.kid !== kid || entry.exp - now < MIN_REMAINING_SECONDS) {
      return undefined
    }
    return entry.jwt
  }

  set(hash: string, entry: PhantomEntry): void {
    this.entries.set(hash, entry)
  }

  /** Drops what `events` name: an opaque token at once, anything else by one pass over the entries. */
  forget(events: readonly RevocationEvent[]): void {
    const names = new Set<string>()
    for (const e of events) {
      if (e.kind === 'token') this.entries.delete(e.value)
      else names.add(`${e.kind}:${e.value}`)
    }
    if (names.size === 0 || this.entries.size === 0) return
    this.entries.deleteWhere((entry) => entry.covers.some((name) => names.has(name)))
  }
}
