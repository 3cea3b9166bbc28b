/**
 * Redis as a shared cache of the hot lookups (`--redis URL`): opaque access tokens by hash, client
 * records and the signing-key list, so that the nodes of a deployment read PostgreSQL once per token
 * or client rather than on every request. Redis is never the only copy: every entry is written after
 * (or read from) the store, and losing Redis, or any entry, only sends reads back to the store.
 *
 * Key layout (PREFIX from `--redis-prefix`, default `latchkey:`), each value `MAC.JSON` where JSON is
 * `{"s":SEQ,"r":RECORD}` with an expiry (`PX`):
 *   PREFIX token:HASH     an OpaqueTokenRecord, until the token expires (at most 5 minutes)
 *   PREFIX client:ID      a ClientRecord (its secret only as the stored password hash, its keys only
 *                         public), 60 s; an entry without every field of today's record is refused
 *   PREFIX keys           the SigningKeyRecords without their private keys, 1 s
 * Private keys never go to Redis: a node reads a key it has not opened from the store.
 *
 * A cache must never serve what has been revoked: every entry records `s`, the revocation feed
 * position of the node that read it from the store, and is used only under the rules of
 * `../cache_guard.ts` (no newer event covers it, not older than the node's guard, follower fresh);
 * anything else is read from the store again and the entry replaced. So an entry that the revoking
 * node could not delete (Redis unreachable from it, a race with a reader writing a stale entry back)
 * is refused by every node as soon as that node's follower has the event: the feed's own delay
 * (LISTEN/NOTIFY or pub/sub, milliseconds), never a TTL. The node that revokes also deletes the
 * entries it knows of and waits for its own follower to have the event before answering, so a
 * revocation is refused on the node that acknowledged it at once.
 *
 * Entries are authenticated with HMAC-SHA256 under a key derived from the key-encryption secret (the
 * one secret every node shares) and bound to their Redis key, so write access to Redis alone cannot
 * forge or move a token record. Without that secret, entries are not authenticated (documented).
 */

import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { tokenCovers, type CacheGuard } from '../cache_guard.js'
import { afterWrites, invalidated, methodsInvalidating } from '../invalidation.js'
import type { ClientRecord, OpaqueTokenRecord, SigningKeyRecord, Store } from '../types.js'

export type CacheName = 'token' | 'client' | 'keys'
/**
 * `hit`: served from Redis; `miss`: not in Redis; `stale`: in Redis but possibly revoked since, or
 * not authentic, so read again; `error`: Redis failed; `bypass`: not consulted (follower stale).
 */
export type LookupResult = 'hit' | 'miss' | 'stale' | 'error' | 'bypass'

export interface RedisCacheOptions {
  /** Key prefix (`--redis-prefix`). */
  prefix: string
  /** The node's guard; until it is attached, every lookup reads the store. */
  guard: CacheGuard
  logger: Logger
  /** The key-encryption secret; entries are authenticated under a key derived from it. */
  secret?: string | undefined
  /** Longest life of a token entry, ms (never past the token's expiry). */
  tokenTtlMs?: number
  clientTtlMs?: number
  keysTtlMs?: number
  /** Longest wait for one Redis command before the store is read instead, ms. */
  commandTimeoutMs?: number
}

interface Entry<T> {
  s: number
  r: T
}

type PublicKeyRecord = Omit<SigningKeyRecord, 'privateKey'>

/** What an entry must satisfy besides being authentic. */
interface EntryCheck<T> {
  /** The events that could cover it (`kind:value`). */
  covers: (record: T) => string[]
  /** Whether it is the record asked for (entries without a MAC could be moved between keys). */
  matches?: (record: T) => boolean
  /** A further lower bound on its feed position. */
  floor?: number
}

/**
 * Whether a cached client has every field of today's `ClientRecord`: an entry written by a node of an
 * earlier version (one `audience`, no auth method) is read from the store again, not served.
 */
function hasClientShape(r: ClientRecord): boolean {
  return (
    (r.authMethod === null || typeof r.authMethod === 'string') &&
    Array.isArray(r.audiences) &&
    Array.isArray(r.exchangeAudiences) &&
    typeof r.requirePar === 'boolean' &&
    typeof r.requireDpop === 'boolean' &&
    Array.isArray(r.allowedOrigins) &&
    r.displayName !== undefined &&
    r.logoUri !== undefined &&
    typeof r.thirdParty === 'boolean' &&
    Array.isArray(r.postLogoutRedirectUris) &&
    r.backchannelLogoutUri !== undefined &&
    typeof r.idTokenSignedResponseAlg === 'string' &&
    r.jwks !== undefined &&
    r.jwksUri !== undefined
  )
}

/** Whether a store read after this lookup result may be written back to Redis. */
const mayWriteBack = (result: LookupResult): boolean => result === 'miss' || result === 'stale'

/** The longest life of a client entry, ms: the longest of any entry (the guard keeps events as long). */
export const REDIS_CLIENT_TTL_MS = 60_000

export class RedisCache {
  private readonly redis: Redis
  private readonly prefix: string
  private readonly mac: Buffer | undefined
  private readonly tokenTtlMs: number
  private readonly clientTtlMs: number
  private readonly keysTtlMs: number
  private readonly guard: CacheGuard
  private failing = false
  /** Opened private keys are not cached in Redis: the PEM (sealed or not) of each kid seen. */
  private readonly privateKeys = new Map<string, string>()
  onLookup: (cache: CacheName, result: LookupResult) => void = () => {}

  constructor(url: string, options: RedisCacheOptions) {
    this.prefix = options.prefix
    this.guard = options.guard
    this.tokenTtlMs = options.tokenTtlMs ?? 300_000
    this.clientTtlMs = Math.min(options.clientTtlMs ?? REDIS_CLIENT_TTL_MS, REDIS_CLIENT_TTL_MS)
    this.keysTtlMs = options.keysTtlMs ?? 1000
    this.mac =
      options.secret === undefined
        ? undefined
        : Buffer.from(hkdfSync('sha256', options.secret, '', 'latchkey redis cache entries', 32))
    this.redis = new Redis(url, {
      // While disconnected a command fails at once and the store answers: never queue behind Redis.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    })
    const { logger } = options
    this.redis.on('error', (err: unknown) => {
      if (!this.failing) logger.warn({ err }, 'redis cache: unavailable; reading from the store')
      this.failing = true
    })
    this.redis.on('ready', () => {
      if (this.failing) logger.info('redis cache: connected again')
      this.failing = false
    })
    // Entries that events name are deleted at once (others are refused by the guard until they go).
    this.guard.onEvent((e) => {
      if (e.kind === 'token') void this.delete(this.tokenKey(e.value))
      else if (e.kind === 'client') void this.delete(this.clientKey(e.value))
      else if (e.kind === 'kid') void this.delete(this.keysKey())
    })
  }

  /** Closes the connection. */
  close(): Promise<void> {
    this.redis.disconnect()
    return Promise.resolve()
  }

  /**
   * The store, with the hot lookups served through Redis and the writes that invalidate a cached
   * record (as `../invalidation.ts` declares them) deleting its entry once they have resolved.
   */
  wrap(store: Store): Store {
    // The waiting for this node's follower is `syncingRevocations`' (outside this wrapper).
    const writes = [
      ...new Set([
        ...methodsInvalidating('token'),
        ...methodsInvalidating('client'),
        ...methodsInvalidating('keys'),
      ]),
    ]
    const wrapped = afterWrites(store, writes, async (method, args, result) => {
      const token = invalidated('token', method, args, result)
      const client = invalidated('client', method, args, result)
      const keys: string[] = []
      if (token) keys.push(this.tokenKey(token))
      if (client) keys.push(this.clientKey(client))
      if (invalidated('keys', method, args, result) === true) keys.push(this.keysKey())
      await Promise.all(keys.map((key) => this.delete(key)))
    })
    return Object.assign(wrapped, {
      findToken: (hash: string, now: number) => this.findToken(store, hash, now),
      // Written through: a new token is never in Redis, so its entry is put, not deleted.
      saveToken: async (token: OpaqueTokenRecord) => {
        const seq = this.guard.positionBeforeRead()
        await store.saveToken(token)
        if (seq !== undefined) this.put(this.tokenKey(token.hash), seq, token, this.tokenTtl(token))
      },
      getClient: (clientId: string) => this.getClient(store, clientId),
      listKeys: () => this.listKeys(store),
    })
  }

  private async findToken(
    store: Store,
    hash: string,
    now: number,
  ): Promise<OpaqueTokenRecord | null> {
    const record = await this.readThrough(
      'token',
      this.tokenKey(hash),
      { covers: tokenCovers, matches: (r) => r.hash === hash },
      () => store.findToken(hash, now),
      (r) => this.tokenTtl(r),
    )
    // Live while now < expiresAt, as the engines decide (a cached entry may have expired since).
    return record !== null && now < record.expiresAt ? record : null
  }

  private getClient(store: Store, clientId: string): Promise<ClientRecord | null> {
    return this.readThrough(
      'client',
      this.clientKey(clientId),
      {
        covers: (r) => [`client:${r.clientId}`],
        matches: (r) => r.clientId === clientId && hasClientShape(r),
      },
      () => store.getClient(clientId),
      () => this.clientTtlMs,
    )
  }

  /**
   * A record through the cache: the entry under `key` when it may be used, else what `load` reads
   * from the store, written back for the other nodes (or the stale entry deleted) when the guard
   * allows caching and Redis answered. An absent record is not remembered: a token or client may
   * appear at any moment.
   */
  private async readThrough<T extends object>(
    cache: CacheName,
    key: string,
    check: EntryCheck<T>,
    load: () => Promise<T | null>,
    ttlMs: (record: T) => number,
  ): Promise<T | null> {
    const cached = await this.lookup(cache, key, check)
    if (cached.record !== undefined) return cached.record
    const seq = this.guard.positionBeforeRead()
    const record = await load()
    if (seq !== undefined && mayWriteBack(cached.result)) {
      if (record) this.put(key, seq, record, ttlMs(record))
      else if (cached.result === 'stale') void this.delete(key)
    }
    return record
  }

  private async listKeys(store: Store): Promise<SigningKeyRecord[]> {
    const key = this.keysKey()
    const cached = await this.lookup<PublicKeyRecord[]>('keys', key, {
      covers: () => [],
      floor: this.guard.newestKidSeq,
    })
    if (cached.record !== undefined) {
      const records: SigningKeyRecord[] = []
      for (const record of cached.record) {
        let privateKey = this.privateKeys.get(record.kid)
        if (privateKey === undefined) {
          privateKey = (await store.getKey(record.kid))?.privateKey
          if (privateKey === undefined) return this.listKeysFromStore(store, undefined)
          this.privateKeys.set(record.kid, privateKey)
        }
        records.push({ ...record, privateKey })
      }
      return records
    }
    return this.listKeysFromStore(
      store,
      mayWriteBack(cached.result) ? this.guard.positionBeforeRead() : undefined,
    )
  }

  private async listKeysFromStore(
    store: Store,
    seq: number | undefined,
  ): Promise<SigningKeyRecord[]> {
    const records = await store.listKeys()
    for (const record of records) this.privateKeys.set(record.kid, record.privateKey)
    if (seq !== undefined) {
      const published: PublicKeyRecord[] = records.map(({ privateKey: _secret, ...rest }) => rest)
      this.put(this.keysKey(), seq, published, this.keysTtlMs)
    }
    return records
  }

  /**
   * The entry under `key` when it may be used: authentic, the record `check` expects, read at or after
   * where this node's guard begins, and not older than any event covering it.
   */
  private async lookup<T>(
    cache: CacheName,
    key: string,
    check: EntryCheck<T>,
  ): Promise<{ record?: T; result: LookupResult }> {
    if (!this.guard.isFresh()) {
      this.onLookup(cache, 'bypass')
      return { result: 'bypass' }
    }
    let raw: string | null
    try {
      raw = await this.redis.get(key)
    } catch {
      this.onLookup(cache, 'error')
      return { result: 'error' }
    }
    if (raw === null) {
      this.onLookup(cache, 'miss')
      return { result: 'miss' }
    }
    const entry = this.open<T>(key, raw)
    // `usable` checks freshness again: the follower may have gone stale while Redis answered.
    if (
      entry === undefined ||
      (check.matches !== undefined && !check.matches(entry.r)) ||
      !this.guard.usable(entry.s, check.covers(entry.r), check.floor)
    ) {
      this.onLookup(cache, 'stale')
      return { result: 'stale' }
    }
    this.onLookup(cache, 'hit')
    return { record: entry.r, result: 'hit' }
  }

  /** Writes an entry without waiting; a failure only means the next reader goes to the store. */
  private put(key: string, seq: number, record: unknown, ttlMs: number): void {
    if (ttlMs < 1) return
    const json = JSON.stringify({ s: seq, r: record })
    this.redis.set(key, `${this.sign(key, json)}.${json}`, 'PX', Math.ceil(ttlMs)).catch(() => {})
  }

  private async delete(key: string): Promise<void> {
    // A failed delete is covered by the guard on every node (rule 2).
    await this.redis.del(key).catch(() => {})
  }

  private open<T>(key: string, raw: string): Entry<T> | undefined {
    const dot = raw.indexOf('.')
    if (dot < 0) return undefined
    const json = raw.slice(dot + 1)
    const mac = Buffer.from(raw.slice(0, dot))
    const expected = Buffer.from(this.sign(key, json))
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined
    try {
      const entry = JSON.parse(json) as Entry<T>
      return Number.isSafeInteger(entry.s) && typeof entry.r === 'object' && entry.r !== null
        ? entry
        : undefined
    } catch {
      return undefined
    }
  }

  private sign(key: string, json: string): string {
    if (this.mac === undefined) return '-'
    return createHmac('sha256', this.mac).update(key).update('\n').update(json).digest('base64url')
  }

  private tokenTtl(token: OpaqueTokenRecord): number {
    return Math.min(this.tokenTtlMs, token.expiresAt * 1000 - Date.now())
  }

  private tokenKey(hash: string): string {
    return `${this.prefix}token:${hash}`
  }

  private clientKey(clientId: string): string {
    return `${this.prefix}client:${clientId}`
  }

  private keysKey(): string {
    return `${this.prefix}keys`
  }
}
