/**
 * The verifier's options, checked once by `createVerifier`: a mistake throws a `TypeError` naming the
 * option, never a rejection at request time.
 */
import { SIGNING_ALGS, type SigningAlg } from './jwt.js'

export interface VerifierOptions {
  /** The authorization server's issuer identifier (RFC 8414 §2); its metadata is discovered from it. */
  issuer: string
  /** This API's identifier: a token's `aud` must be or contain it (RFC 9068 §4). */
  audience: string
  /**
   * This API's client, created with `--resource-server`: used for introspection (opaque tokens) and
   * to follow the revocation feed. Without it, opaque tokens are refused and JWTs are checked without
   * knowledge of revocations (valid until `exp`).
   */
  clientId?: string
  clientSecret?: string
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. Default 5, at most 300. */
  clockTolerance?: number
  /** Signature algorithms accepted, whatever the keys allow. Default every one Latchkey signs with. */
  algorithms?: SigningAlg[]
  /**
   * Seconds the revocation feed may be unreachable before `verify` refuses every token with
   * `temporarily_unavailable` (fail closed). Default 30.
   */
  maxStaleness?: number
  /** When the feed is stale, go on accepting tokens checked locally instead. Default `false`. */
  failOpen?: boolean
  /**
   * How to follow the revocation feed: a Server-Sent Events stream (`'sse'`, the default with client
   * credentials), JSON polling every `pollInterval` seconds (`'poll'`), or not at all (`false`).
   */
  revocationFeed?: 'sse' | 'poll' | false
  /** Seconds between two polls of the feed with `revocationFeed: 'poll'`. Default 1. */
  pollInterval?: number
  /** Seconds without a byte on the feed stream (heartbeats come every 15 s) before reconnecting. Default 45. */
  heartbeatTimeout?: number
  /** Seconds between two JWKS fetches caused by an unknown `kid`. Default 5. */
  jwksCooldown?: number
  /** Verified tokens (JWT and introspected alike) kept in memory, each cache. Default 10 000. */
  cacheSize?: number
  /** Seconds a DPoP proof is accepted after its `iat` (RFC 9449 §11.1). Default 60, at most 600. */
  dpopMaxAge?: number
  /**
   * DPoP proofs remembered to refuse replays (each for `dpopMaxAge` plus the clock tolerance).
   * Default 100 000: past it the oldest are forgotten, so size it for a window's requests.
   */
  dpopReplayCacheSize?: number
  /**
   * Longest time an introspection answer is reused, seconds (never past the token's `exp`). Default 300
   * while following the feed, which evicts revoked tokens; 10 without it.
   */
  introspectionCacheTtl?: number
  /** Seconds an inactive introspection answer is reused. Default 5. */
  negativeCacheTtl?: number
  /** Seconds before a request to the authorization server is given up. Default 5. */
  requestTimeout?: number
  /**
   * Check signatures on libuv's thread pool (`true`) rather than on the event loop (`false`). Worth
   * it with many concurrent requests on a machine with another core; a single check is slower.
   * Default `'auto'`: on the pool while the event loop is saturated (over 80% busy), inline otherwise
   * (`offload.ts`).
   */
  offloadSignatureChecks?: boolean | 'auto'
  /** `fetch` to use (a proxy, a test spy). Default the global one. */
  fetch?: typeof fetch
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number
  /** Told of background failures (feed, JWKS refresh); never of token material. */
  onError?: (error: Error) => void
}

export interface ResolvedOptions {
  issuer: string
  audience: string
  credentials: { clientId: string; clientSecret: string } | null
  clockTolerance: number
  algorithms: ReadonlySet<SigningAlg>
  maxStalenessMs: number
  failOpen: boolean
  revocationFeed: 'sse' | 'poll' | false
  pollIntervalMs: number
  heartbeatTimeoutMs: number
  jwksCooldownMs: number
  cacheSize: number
  dpopMaxAge: number
  dpopReplayCacheSize: number
  introspectionCacheTtlMs: number
  negativeCacheTtlMs: number
  requestTimeoutMs: number
  offloadSignatureChecks: boolean | 'auto'
  fetch: typeof fetch
  clock: () => number
  onError: (error: Error) => void
}

function seconds(
  options: VerifierOptions,
  name: keyof VerifierOptions,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[name] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(`verifier: ${name} must be a number from ${min} to ${max}`)
  }
  return value
}

function offloadMode(value: unknown): boolean | 'auto' {
  if (value === undefined) return 'auto'
  if (typeof value === 'boolean' || value === 'auto') return value
  throw new TypeError("verifier: offloadSignatureChecks must be true, false or 'auto'")
}

function url(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`verifier: ${name} must be a URL string`)
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw new TypeError(`verifier: ${name} must be a URL`)
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`verifier: ${name} must be an https (or, for development, http) URL`)
  }
  return value.endsWith('/') ? value.slice(0, -1) : value
}

export function resolveOptions(options: VerifierOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('verifier: options must be an object')
  }
  const issuer = url(options.issuer, 'issuer')
  if (typeof options.audience !== 'string' || options.audience === '') {
    throw new TypeError('verifier: audience must be a non-empty string')
  }
  const { clientId, clientSecret } = options
  if ((clientId === undefined) !== (clientSecret === undefined)) {
    throw new TypeError('verifier: clientId and clientSecret go together')
  }
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) {
    throw new TypeError('verifier: clientId must be a non-empty string')
  }
  if (clientSecret !== undefined && typeof clientSecret !== 'string') {
    throw new TypeError('verifier: clientSecret must be a string')
  }
  const credentials =
    clientId !== undefined && clientSecret !== undefined ? { clientId, clientSecret } : null
  const algorithms = options.algorithms ?? [...SIGNING_ALGS]
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    !algorithms.every((a) => SIGNING_ALGS.includes(a))
  ) {
    throw new TypeError(
      `verifier: algorithms must be a non-empty list of ${SIGNING_ALGS.join(', ')}`,
    )
  }
  const feed = options.revocationFeed ?? (credentials ? 'sse' : false)
  if (feed !== 'sse' && feed !== 'poll' && feed !== false) {
    throw new TypeError("verifier: revocationFeed must be 'sse', 'poll' or false")
  }
  if (feed !== false && !credentials) {
    throw new TypeError('verifier: following the revocation feed needs clientId and clientSecret')
  }
  const fetchFn = options.fetch ?? globalThis.fetch
  if (typeof fetchFn !== 'function') throw new TypeError('verifier: fetch must be a function')
  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') throw new TypeError('verifier: clock must be a function')
  const onError = options.onError ?? (() => {})
  if (typeof onError !== 'function') throw new TypeError('verifier: onError must be a function')
  return {
    issuer,
    audience: options.audience,
    credentials,
    clockTolerance: seconds(options, 'clockTolerance', 5, 0, 300),
    algorithms: new Set(algorithms),
    maxStalenessMs: seconds(options, 'maxStaleness', 30, 0.05, 86_400) * 1000,
    failOpen: options.failOpen === true,
    revocationFeed: feed,
    pollIntervalMs: seconds(options, 'pollInterval', 1, 0.01, 3600) * 1000,
    heartbeatTimeoutMs: seconds(options, 'heartbeatTimeout', 45, 0.1, 3600) * 1000,
    jwksCooldownMs: seconds(options, 'jwksCooldown', 5, 0, 3600) * 1000,
    cacheSize: seconds(options, 'cacheSize', 10_000, 0, 10_000_000),
    dpopMaxAge: seconds(options, 'dpopMaxAge', 60, 1, 600),
    dpopReplayCacheSize: seconds(options, 'dpopReplayCacheSize', 100_000, 1, 10_000_000),
    introspectionCacheTtlMs:
      seconds(options, 'introspectionCacheTtl', feed === false ? 10 : 300, 0, 86_400) * 1000,
    negativeCacheTtlMs: seconds(options, 'negativeCacheTtl', 5, 0, 3600) * 1000,
    requestTimeoutMs: seconds(options, 'requestTimeout', 5, 0.1, 600) * 1000,
    offloadSignatureChecks: offloadMode(options.offloadSignatureChecks),
    fetch: fetchFn,
    clock,
    onError,
  }
}
