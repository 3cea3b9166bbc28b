/**
 * The verifier: discovery, the JWKS cache, local JWT checks, introspection, the revocation feed and
 * the caches in front of them, put together. `index.ts` is its public face.
 *
 * Invariant: no cache holds a token that a known revocation covers. A token is checked against the
 * revocation set synchronously right before it is cached, and every batch of feed events evicts
 * what it covers, so a cache hit needs no revocation lookup.
 */
import { SIGNING_ALGS, type AccessTokenClaims } from './jwt.js'
import { hashOpaqueToken } from './token_hash.js'
import { discoverMetadata, type ServerMetadata } from './discovery.js'
import { invalidToken, unavailable, VerifierConfigError, VerifierError } from './errors.js'
import { FeedFollower } from './feed.js'
import { basicAuthorization, UpstreamError } from './http.js'
import { introspect } from './introspection.js'
import { JWKSCache } from './jwks.js'
import { checkJWT } from './jwt_check.js'
import { DPoPReplayCache } from './dpop.js'
import { checkSender, type DPoPRequest } from './dpop_check.js'
import { ExpiringLRU } from './lru.js'
import { OffloadPolicy } from './offload.js'
import { SignatureWorker } from './signature_worker.js'
import { resolveOptions, type ResolvedOptions, type VerifierOptions } from './options.js'
import { RevocationSet, type FeedEvent, type RevocationSubject } from './revocation_set.js'

/** The claims of a verified access token (RFC 9068 §2.2), frozen: the same object may be shared. */
export type VerifiedClaims = Readonly<AccessTokenClaims>

export interface VerifyOptions {
  /** Scopes the token must all have, else `insufficient_scope` (RFC 6750 §3.1). */
  scopes?: readonly string[]
  /**
   * How the token was presented, for DPoP (RFC 9449 §7): the scheme, the proof, the request's method
   * and URL. Without it the token is taken as a bearer token, and a token bound to a key is refused.
   */
  dpop?: DPoPRequest | undefined
}

export interface VerifierStats {
  /** JWT signatures checked (cache misses). */
  signatureChecks: number
  /** Of those, checked off the event loop, on the verifier's thread (`offloadSignatureChecks`). */
  offloadedChecks: number
  jwtCacheHits: number
  /** Requests made to the introspection endpoint. */
  introspections: number
  introspectionCacheHits: number
  jwksFetches: number
  /** Revocation events received from the feed. */
  revocationEvents: number
  /** Connections (SSE) or requests (poll) made to the feed. */
  feedConnects: number
  /** Caught up with the feed now. */
  feedLive: boolean
  /** Milliseconds since the feed was last known current (0 while it is). */
  feedStaleMs: number
  /** The last feed position seen. */
  feedCursor: number
}

interface JWTEntry {
  expiresAt: number
  claims: VerifiedClaims
  subject: RevocationSubject
}

interface OpaqueEntry {
  expiresAt: number
  /** `null`: inactive, for `reason`. */
  claims: VerifiedClaims | null
  subject: RevocationSubject | null
  reason: string
}

// RFC 6750 §2.1 b64token, bounded: anything else is refused without a request.
const OPAQUE_SHAPE = /^[A-Za-z0-9\-._~+/]{1,2048}=*$/
const PRUNE_EVERY_MS = 30_000
const DISCOVERY_RETRY_MAX_MS = 10_000
/** After introspection refused the credentials: no new attempt for 1 s, doubling up to 30 s. */
const REFUSED_RETRY_FIRST_MS = 1000
const REFUSED_RETRY_MAX_MS = 30_000

/** `err`'s message, for a description that names what went wrong underneath. */
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

function subjectOf(
  claims: AccessTokenClaims,
  extra: Partial<RevocationSubject>,
): RevocationSubject {
  return {
    jti: claims.jti || undefined,
    sid: claims.sid,
    sub: claims.sub,
    client_id: claims.client_id,
    iat: claims.iat,
    ...extra,
  }
}

/**
 * Throws `insufficient_scope` unless the token was granted every scope in `required`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function requireScopes(claims: VerifiedClaims, required: readonly string[]): void {
  if (required.length === 0) return
  const granted = typeof claims.scope === 'string' ? claims.scope.split(' ') : []
  if (!required.every((s) => granted.includes(s))) {
    throw new VerifierError('insufficient_scope', 'the token lacks a scope this request needs', {
      scope: required.join(' '),
    })
  }
}

export class Verifier {
  private readonly o: ResolvedOptions
  private readonly createdAt: number
  private metadata: ServerMetadata | undefined
  private discoveryError: Error | undefined
  /** The last discovery failed for good: the issuer URL or the metadata is wrong. */
  private discoveryConfigError: VerifierConfigError | undefined
  /** Introspection refused this API's credentials: refused again without a request until `until`. */
  private introspectionRefusal: { error: VerifierConfigError; until: number } | undefined
  private introspectionRetryMs = REFUSED_RETRY_FIRST_MS
  /** Aborts every request in flight on `close()`, so that nothing keeps the process alive. */
  private readonly shutdown = new AbortController()
  private readonly firstDiscovery: Promise<void>
  private jwks: JWKSCache | undefined
  private feed: FeedFollower | undefined
  private feedMissing = false
  private readonly revocations = new RevocationSet()
  private readonly jwtCache: ExpiringLRU<JWTEntry>
  private readonly opaqueCache: ExpiringLRU<OpaqueEntry>
  private readonly dpopReplays: DPoPReplayCache
  private readonly introspecting = new Map<string, Promise<OpaqueEntry>>()
  private readonly pruneTimer: NodeJS.Timeout
  /** Where signatures are checked: inline, on the thread pool, or by the event loop's load. */
  private readonly offload: OffloadPolicy
  private readonly signatures = new SignatureWorker()
  private discoveryTimer: NodeJS.Timeout | undefined
  private closed = false
  private readonly counters = {
    signatureChecks: 0,
    offloadedChecks: 0,
    jwtCacheHits: 0,
    introspections: 0,
    introspectionCacheHits: 0,
    revocationEvents: 0,
  }
  private readonly nowSeconds = (): number => Math.floor(this.o.clock() / 1000)

  constructor(options: VerifierOptions) {
    this.o = resolveOptions(options)
    this.createdAt = this.o.clock()
    this.jwtCache = new ExpiringLRU(this.o.cacheSize)
    this.opaqueCache = new ExpiringLRU(this.o.cacheSize)
    this.dpopReplays = new DPoPReplayCache(this.o.dpopReplayCacheSize)
    this.offload = new OffloadPolicy(this.o.offloadSignatureChecks)
    this.firstDiscovery = this.discover(1000)
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS)
    this.pruneTimer.unref()
  }

  /**
   * Verifies an access token: a JWT locally (RFC 9068 §4), an opaque token by introspection
   * (RFC 7662), then against the revocations the feed has announced, then its sender constraint
   * (RFC 9449 §7: a token bound to a key needs `options.dpop` with a valid proof), then
   * `options.scopes`.
   */
  async verify(token: string, options?: VerifyOptions): Promise<VerifiedClaims> {
    const claims =
      this.cachedClaims(token) ??
      (await (token.includes('.') ? this.verifyJWT(token) : this.verifyOpaque(token)))
    return this.admit(token, claims, options)
  }

  /**
   * `verify` answered from this verifier's caches alone, without a promise: the claims of a token it
   * has checked before (or its refusal, thrown where `verify` rejects), or `undefined` when the token
   * needs a signature check or an introspection first (then call `verify`). Every check after that
   * step is `verify`'s own: revocations, the feed's freshness, the sender constraint, the scopes. A
   * framework adapter answers a repeated token with it in the same turn of the event loop.
   */
  verifyCached(token: string, options?: VerifyOptions): VerifiedClaims | undefined {
    const claims = this.cachedClaims(token)
    return claims === undefined ? undefined : this.admit(token, claims, options)
  }

  /** The checks of a request once the token's claims are known: sender constraint, then scopes. */
  private admit(token: string, claims: VerifiedClaims, options?: VerifyOptions): VerifiedClaims {
    checkSender(token, claims, options?.dpop, {
      replays: this.dpopReplays,
      algs: SIGNING_ALGS,
      now: this.nowSeconds(),
      maxAgeSeconds: this.o.dpopMaxAge,
      clockTolerance: this.o.clockTolerance,
    })
    if (options?.scopes) requireScopes(claims, options.scopes)
    return claims
  }

  /**
   * The claims of a token a cache holds (a JWT whose signature was checked, an opaque token
   * introspected), `undefined` for one that none does. Throws for an unusable token or verifier, a
   * cached refusal, and a feed too stale to trust the cache with.
   */
  private cachedClaims(token: string): VerifiedClaims | undefined {
    if (typeof token !== 'string' || token === '') {
      throw new VerifierError('invalid_request', 'no access token was given')
    }
    if (this.closed) throw unavailable('the verifier is closed')
    const now = this.o.clock()
    if (token.includes('.')) {
      const hit = this.jwtCache.get(token, now)
      if (hit === undefined) return undefined
      this.checkFresh(now)
      this.counters.jwtCacheHits++
      return hit.claims
    }
    if (!OPAQUE_SHAPE.test(token)) throw invalidToken('malformed token')
    if (!this.o.credentials) {
      throw invalidToken(
        'opaque tokens are not accepted here (the verifier has no client credentials)',
      )
    }
    const entry = this.opaqueCache.get(token, now)
    if (entry === undefined) return undefined
    this.counters.introspectionCacheHits++
    this.checkFresh(now)
    if (entry.claims === null) throw invalidToken(entry.reason)
    return entry.claims
  }

  /**
   * Resolves once the metadata is known and the feed has caught up. Rejects at once with a
   * `VerifierConfigError` when the configuration is wrong (credentials refused, another issuer, no
   * metadata at the issuer URL), and with `temporarily_unavailable` when the server still cannot be
   * reached after `timeoutMs`.
   */
  async ready(timeoutMs = this.o.maxStalenessMs): Promise<void> {
    const deadline = this.o.clock() + timeoutMs
    while (this.metadata === undefined) {
      if (this.closed) throw unavailable('the verifier is closed')
      if (this.discoveryConfigError) throw this.discoveryConfigError
      if (this.o.clock() > deadline) throw this.unreachable()
      await new Promise((r) => setTimeout(r, 20))
    }
    if (this.feed) {
      await this.feed.waitForSync(deadline - this.o.clock()).catch((err: unknown) => {
        throw this.feedError(err)
      })
    }
  }

  stats(): VerifierStats {
    const now = this.o.clock()
    return {
      ...this.counters,
      jwksFetches: this.jwks?.fetches ?? 0,
      feedConnects: this.feed?.connects ?? 0,
      feedLive: this.feed?.isLive ?? false,
      feedStaleMs: this.feed?.staleFor(now) ?? 0,
      feedCursor: this.feed?.cursor ?? 0,
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.shutdown.abort()
    clearInterval(this.pruneTimer)
    this.offload.close()
    this.signatures.close()
    clearTimeout(this.discoveryTimer)
    this.feed?.close()
    this.jwtCache.clear()
    this.opaqueCache.clear()
    this.dpopReplays.clear()
  }

  private async verifyJWT(token: string): Promise<VerifiedClaims> {
    const jwks = this.jwks ?? (await this.discovered()).jwks
    // No promise to wait for once the feed has synced (every check but the first few).
    if (!this.feedSynced()) await this.feedReady()
    const offload = this.offload.offloadNext()
    const { claims, kid } = await checkJWT(
      token,
      {
        issuer: this.o.issuer,
        audience: this.o.audience,
        clockTolerance: this.o.clockTolerance,
        offload,
        offloaded: this.signatures.verify,
        ranInline: this.offload.ranInline,
        key: (k) => jwks.peek(k) ?? this.fetchKey(jwks, k),
      },
      this.nowSeconds,
    )
    this.counters.signatureChecks++
    if (offload) this.counters.offloadedChecks++
    const subject = subjectOf(claims, { kid })
    // Synchronously from here to the cache: no event can slip in between the check and the insert.
    if (this.revocations.covers(subject)) throw invalidToken('token has been revoked')
    this.checkFresh(this.o.clock())
    const frozen = Object.freeze(claims)
    this.jwtCache.set(token, { claims: frozen, subject, expiresAt: claims.exp * 1000 })
    return frozen
  }

  private async fetchKey(jwks: JWKSCache, kid: string) {
    try {
      return await jwks.get(kid)
    } catch (err) {
      throw unavailable(`the signing keys cannot be fetched (${messageOf(err)})`, err)
    }
  }

  /** An opaque token no cache holds (`cachedClaims` has checked its shape): introspected once. */
  private async verifyOpaque(token: string): Promise<VerifiedClaims> {
    await this.discovered()
    if (!this.feedSynced()) await this.feedReady()
    let pending = this.introspecting.get(token)
    if (pending === undefined) {
      pending = this.introspect(token).finally(() => this.introspecting.delete(token))
      this.introspecting.set(token, pending)
    }
    const entry = await pending
    // An event may have arrived while this caller waited.
    if (entry.subject !== null && this.revocations.covers(entry.subject)) {
      throw invalidToken('token has been revoked')
    }
    this.checkFresh(this.o.clock())
    if (entry.claims === null) throw invalidToken(entry.reason)
    return entry.claims
  }

  private async introspect(token: string): Promise<OpaqueEntry> {
    const md = this.metadata
    const credentials = this.o.credentials
    if (!md?.introspectionEndpoint || !credentials) {
      throw unavailable('the authorization server announces no introspection endpoint')
    }
    const refusal = this.introspectionRefusal
    // Refused a moment ago: not again at once, or the server's rate limiter locks this API out.
    if (refusal !== undefined && this.o.clock() < refusal.until) throw refusal.error
    this.counters.introspections++
    let result
    try {
      result = await introspect(
        token,
        {
          endpoint: md.introspectionEndpoint,
          authorization: basicAuthorization(credentials.clientId, credentials.clientSecret),
          issuer: this.o.issuer,
          audience: this.o.audience,
          fetch: this.o.fetch,
          timeoutMs: this.o.requestTimeoutMs,
          signal: this.shutdown.signal,
        },
        this.nowSeconds(),
      )
    } catch (err) {
      if (err instanceof UpstreamError && err.definitive) {
        const error = new VerifierConfigError(err.message, err)
        this.introspectionRefusal = { error, until: this.o.clock() + this.introspectionRetryMs }
        this.introspectionRetryMs = Math.min(this.introspectionRetryMs * 2, REFUSED_RETRY_MAX_MS)
        throw error
      }
      throw unavailable(
        `the authorization server cannot be reached to introspect the token (${messageOf(err)})`,
        err,
      )
    }
    this.introspectionRefusal = undefined
    this.introspectionRetryMs = REFUSED_RETRY_FIRST_MS
    const now = this.o.clock()
    if (!result.active) {
      const entry = {
        claims: null,
        subject: null,
        reason: result.reason,
        expiresAt: now + this.o.negativeCacheTtlMs,
      }
      this.opaqueCache.set(token, entry)
      return entry
    }
    const claims = Object.freeze(result.claims)
    const subject = subjectOf(claims, { tokenHash: hashOpaqueToken(token) })
    const entry: OpaqueEntry = {
      claims,
      subject,
      reason: '',
      // Never past the token's own expiry.
      expiresAt: Math.min(claims.exp * 1000, now + this.o.introspectionCacheTtlMs),
    }
    if (!this.revocations.covers(subject)) this.opaqueCache.set(token, entry)
    return entry
  }

  /** Throws `temporarily_unavailable` when the feed has been out of reach too long (fail closed). */
  private checkFresh(now: number): void {
    if (this.o.failOpen) return
    if (this.feedMissing) {
      throw unavailable('the authorization server announces no revocation feed')
    }
    const feed = this.feed
    if (feed === undefined) return
    const stale = feed.staleFor(now)
    if (stale > this.o.maxStalenessMs) {
      if (feed.refusal) throw new VerifierConfigError(feed.refusal.message, feed.refusal)
      throw unavailable(
        `the revocation feed has been unreachable for ${Math.round(stale / 1000)} s; ` +
          'tokens are refused until it is back',
      )
    }
  }

  /** Before the feed's first catch-up, waits for it (up to the staleness bound from creation). */
  /** Whether a check may go on without waiting for the feed (`feedReady` has nothing to wait for). */
  private feedSynced(): boolean {
    const feed = this.feed
    return feed === undefined || feed.hasSynced || this.o.failOpen
  }

  private async feedReady(): Promise<void> {
    const feed = this.feed
    if (feed === undefined || this.feedSynced()) return
    const left = this.createdAt + this.o.maxStalenessMs - this.o.clock()
    try {
      await feed.waitForSync(left)
    } catch (err) {
      throw this.feedError(err)
    }
  }

  /** Why waiting for the feed failed: its refusal of the credentials, closing, or no answer. */
  private feedError(err: unknown): VerifierError {
    const refusal = this.feed?.refusal
    if (refusal) return new VerifierConfigError(refusal.message, refusal)
    if (this.closed) return unavailable('the verifier is closed')
    return unavailable('the revocation feed cannot be reached', err)
  }

  private unreachable(): VerifierError {
    const why = this.discoveryError ? messageOf(this.discoveryError) : 'no answer yet'
    return unavailable(`the authorization server cannot be reached (${why})`, this.discoveryError)
  }

  private async discovered(): Promise<{ md: ServerMetadata; jwks: JWKSCache }> {
    if (this.metadata === undefined) await this.firstDiscovery
    if (this.metadata === undefined || this.jwks === undefined) {
      throw this.discoveryConfigError ?? this.unreachable()
    }
    return { md: this.metadata, jwks: this.jwks }
  }

  /** Fetches the metadata, then keeps retrying in the background with backoff until it succeeds. */
  private async discover(retryMs: number): Promise<void> {
    if (this.closed) return
    try {
      const md = await discoverMetadata(
        this.o.issuer,
        this.o.fetch,
        this.o.requestTimeoutMs,
        this.shutdown.signal,
      )
      if (this.closed) return
      this.discoveryConfigError = undefined
      this.start(md)
    } catch (err) {
      this.discoveryError = err instanceof Error ? err : new Error(String(err))
      this.discoveryConfigError =
        err instanceof UpstreamError && err.definitive
          ? new VerifierConfigError(err.message, err)
          : undefined
      this.o.onError(this.discoveryError)
      if (this.closed) return
      this.discoveryTimer = setTimeout(() => {
        void this.discover(Math.min(retryMs * 2, DISCOVERY_RETRY_MAX_MS))
      }, retryMs)
      this.discoveryTimer.unref()
    }
  }

  private start(md: ServerMetadata): void {
    this.jwks = new JWKSCache({
      uri: md.jwksUri,
      algorithms: this.o.algorithms,
      cooldownMs: this.o.jwksCooldownMs,
      timeoutMs: this.o.requestTimeoutMs,
      fetch: this.o.fetch,
      clock: this.o.clock,
      onError: this.o.onError,
      signal: this.shutdown.signal,
    })
    // Warm the key cache now rather than on the first token.
    this.jwks.refresh().catch((err: unknown) => this.o.onError(err as Error))
    const credentials = this.o.credentials
    if (this.o.revocationFeed !== false && credentials) {
      if (md.revocationFeedEndpoint === undefined) {
        this.feedMissing = true
        this.o.onError(new Error('the authorization server announces no revocation feed'))
      } else {
        this.feed = new FeedFollower({
          url: md.revocationFeedEndpoint,
          authorization: basicAuthorization(credentials.clientId, credentials.clientSecret),
          transport: this.o.revocationFeed,
          pollIntervalMs: this.o.pollIntervalMs,
          heartbeatTimeoutMs: this.o.heartbeatTimeoutMs,
          requestTimeoutMs: this.o.requestTimeoutMs,
          fetch: this.o.fetch,
          clock: this.o.clock,
          onEvents: (events) => this.apply(events),
          onError: this.o.onError,
        })
      }
    }
    this.metadata = md
  }

  /** Records feed events and evicts every cached token they cover. */
  private apply(events: FeedEvent[]): void {
    for (const e of events) this.revocations.add(e)
    this.counters.revocationEvents += events.length
    this.jwtCache.deleteWhere((entry) => this.revocations.covers(entry.subject))
    this.opaqueCache.deleteWhere(
      (entry) => entry.subject !== null && this.revocations.covers(entry.subject),
    )
  }

  private prune(): void {
    const now = this.o.clock()
    this.revocations.prune(Math.floor(now / 1000) - this.o.clockTolerance)
    this.jwtCache.prune(now)
    this.opaqueCache.prune(now)
    this.dpopReplays.prune(now)
  }
}
