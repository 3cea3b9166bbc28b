/**
 * The revocations a verifier knows of, from the authorization server's feed. It only grows between
 * prunes (an event is never withdrawn), and an event is forgotten once its `expires_at` has passed by
 * more than the clock tolerance: by then nothing it covers can still be accepted.
 *
 * Matching follows the store's `isRevoked`: `jti`, `token` (an opaque token's SHA-256), `sid` and
 * `kid` events cover every token they name; `sub` and `client` events cover only tokens issued at or
 * before the event (`iat <= created_at`).
 */

export type RevocationKind = 'jti' | 'token' | 'sid' | 'sub' | 'client' | 'kid'

/** One event, as the feed sends it. */
export interface FeedEvent {
  seq: number
  kind: RevocationKind
  value: string
  client_id: string | null
  created_at: number
  expires_at: number
}

const KINDS = new Set<string>(['jti', 'token', 'sid', 'sub', 'client', 'kid'])

/** Parses one feed event, or `null` when it is not one (ignored rather than trusted). */
export function parseFeedEvent(value: unknown): FeedEvent | null {
  if (typeof value !== 'object' || value === null) return null
  const e = value as Record<string, unknown>
  if (
    !Number.isSafeInteger(e.seq) ||
    typeof e.kind !== 'string' ||
    !KINDS.has(e.kind) ||
    typeof e.value !== 'string' ||
    typeof e.created_at !== 'number' ||
    typeof e.expires_at !== 'number' ||
    (e.client_id !== null && typeof e.client_id !== 'string')
  ) {
    return null
  }
  return e as unknown as FeedEvent
}

/** What a token offers to be matched against: its claims, the key that signed it, its hash if opaque. */
export interface RevocationSubject {
  jti?: string | undefined
  sid?: string | undefined
  sub: string
  client_id: string
  iat: number
  kid?: string | undefined
  tokenHash?: string | undefined
}

interface UpTo {
  /** Tokens issued at or before this second are covered. */
  createdAt: number
  expiresAt: number
}

export class RevocationSet {
  /** `jti`, `token`, `sid`, `kid` events by kind and value: when they may be forgotten. */
  private readonly exact = new Map<string, number>()
  /** `sub` and `client` events, merged per value (a later event covers all an earlier one did). */
  private readonly upTo = new Map<string, UpTo>()

  get size(): number {
    return this.exact.size + this.upTo.size
  }

  add(e: FeedEvent): void {
    const key = `${e.kind}:${e.value}`
    if (e.kind === 'sub' || e.kind === 'client') {
      const known = this.upTo.get(key)
      // Merging keeps the widest cover: every token issued up to the latest event, until the latest
      // expiry. Past an event's own expiry what it covers has expired, so widening is safe.
      this.upTo.set(key, {
        createdAt: Math.max(known?.createdAt ?? -Infinity, e.created_at),
        expiresAt: Math.max(known?.expiresAt ?? -Infinity, e.expires_at),
      })
    } else {
      this.exact.set(key, Math.max(this.exact.get(key) ?? -Infinity, e.expires_at))
    }
  }

  /** Whether a known event covers the token. */
  covers(t: RevocationSubject): boolean {
    if (this.exact.size > 0) {
      if (t.jti !== undefined && this.exact.has(`jti:${t.jti}`)) return true
      if (t.sid !== undefined && this.exact.has(`sid:${t.sid}`)) return true
      if (t.kid !== undefined && this.exact.has(`kid:${t.kid}`)) return true
      if (t.tokenHash !== undefined && this.exact.has(`token:${t.tokenHash}`)) return true
    }
    if (this.upTo.size > 0) {
      const sub = this.upTo.get(`sub:${t.sub}`)
      if (sub !== undefined && t.iat <= sub.createdAt) return true
      const client = this.upTo.get(`client:${t.client_id}`)
      if (client !== undefined && t.iat <= client.createdAt) return true
    }
    return false
  }

  /**
   * Whether a known event named by `ref` covers a token issued at `iat`, as the store's `isRevoked`
   * decides: the event not expired at `nowSeconds`, and for `sub` and `client`, issued at or before it.
   */
  coversRef(
    ref: { kind: RevocationKind; value: string },
    iat: number,
    nowSeconds: number,
  ): boolean {
    const key = `${ref.kind}:${ref.value}`
    if (ref.kind === 'sub' || ref.kind === 'client') {
      const e = this.upTo.get(key)
      return e !== undefined && iat <= e.createdAt && e.expiresAt >= nowSeconds
    }
    const expiresAt = this.exact.get(key)
    return expiresAt !== undefined && expiresAt >= nowSeconds
  }

  /** Forgets events whose `expires_at` is before `nowSeconds`. */
  prune(nowSeconds: number): void {
    for (const [key, expiresAt] of this.exact) if (expiresAt < nowSeconds) this.exact.delete(key)
    for (const [key, e] of this.upTo) if (e.expiresAt < nowSeconds) this.upTo.delete(key)
  }
}
