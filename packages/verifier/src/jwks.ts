/**
 * The authorization server's JWK Set (RFC 7517 §5), cached for its `Cache-Control: max-age`. A token
 * naming an unknown `kid` causes a refetch at most once per cooldown, so forged kids cannot turn the
 * verifier into a JWKS flood. Each key verifies exactly one algorithm, its own `alg`, and only if the
 * verifier allows it: the algorithm comes from the key, never from the token (RFC 8725 §3.1).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.1
 */
import { JWTVerificationKey, type JWK, type SigningAlg } from './jwt.js'
import { fetchJSON, UpstreamError } from './http.js'

const DEFAULT_MAX_AGE_S = 60
const MAX_MAX_AGE_S = 86_400

/** `max-age` of a Cache-Control header, in seconds; `undefined` when absent or unreadable. */
export function maxAgeOf(cacheControl: string | null): number | undefined {
  if (cacheControl === null) return undefined
  if (/(^|,)\s*(no-store|no-cache)\s*(,|$)/i.test(cacheControl)) return 0
  const m = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/i.exec(cacheControl)
  return m ? Number(m[1]) : undefined
}

/** Whether the key's type (and curve) is the one its `alg` needs (RFC 7518 §3.1, RFC 8037 §3.1). */
function keyTypeFits(jwk: JWK, alg: SigningAlg): boolean {
  switch (alg) {
    case 'ES256':
      return jwk.kty === 'EC' && jwk.crv === 'P-256'
    case 'RS256':
    case 'PS256':
      return jwk.kty === 'RSA'
    case 'EdDSA':
      return jwk.kty === 'OKP' && jwk.crv === 'Ed25519'
  }
}

export interface JWKSCacheOptions {
  uri: string
  algorithms: ReadonlySet<SigningAlg>
  cooldownMs: number
  timeoutMs: number
  fetch: typeof fetch
  clock: () => number
  onError: (error: Error) => void
  /** Aborts a fetch in flight (the verifier is closed). */
  signal?: AbortSignal
}

export class JWKSCache {
  private keys = new Map<string, JWTVerificationKey>()
  private loaded = false
  /** Why the last fetch failed, while the JWK Set has never been loaded. */
  private lastError: Error | undefined
  private fetchedAt = -Infinity
  private freshUntil = -Infinity
  private inFlight: Promise<void> | undefined
  /** How many times the JWK Set was requested. */
  fetches = 0

  constructor(private readonly options: JWKSCacheOptions) {}

  /**
   * The key for `kid`, from the cache when it is there. A stale cache is refreshed in the background
   * (the cached keys go on verifying meanwhile); an unknown `kid` waits for a refetch, unless one
   * happened within the cooldown. `undefined` when no usable key has this id. Rejects with
   * `UpstreamError` only when the JWK Set has never been loaded and cannot be (within the cooldown
   * after a failed fetch, at once with that failure: an unreachable JWKS is never an unknown `kid`).
   */
  async get(kid: string): Promise<JWTVerificationKey | undefined> {
    const now = this.options.clock()
    const key = this.keys.get(kid)
    if (key !== undefined) {
      if (now >= this.freshUntil && this.inFlight === undefined) {
        this.refresh().catch((err: unknown) => this.options.onError(err as Error))
      }
      return key
    }
    if (!this.loaded) {
      if (
        this.inFlight === undefined &&
        this.lastError &&
        now - this.fetchedAt < this.options.cooldownMs
      ) {
        throw this.lastError
      }
      await this.refresh()
    } else if (now - this.fetchedAt >= this.options.cooldownMs || this.inFlight !== undefined) {
      try {
        await this.refresh()
      } catch (err) {
        // The keys known before stay; this kid is simply unknown.
        this.options.onError(err as Error)
      }
    }
    return this.keys.get(kid)
  }

  /** The cached key, without any fetch. */
  peek(kid: string): JWTVerificationKey | undefined {
    return this.keys.get(kid)
  }

  /** Fetches the JWK Set now (one request at a time, shared by concurrent callers). */
  refresh(): Promise<void> {
    this.inFlight ??= this.load().then(
      () => {
        this.inFlight = undefined
        this.loaded = true
        this.lastError = undefined
      },
      (err: unknown) => {
        this.inFlight = undefined
        if (!this.loaded) this.lastError = err instanceof Error ? err : new Error(String(err))
        throw err
      },
    )
    return this.inFlight
  }

  private async load(): Promise<void> {
    this.fetches++
    // Counted as an attempt whatever its outcome: the cooldown also spaces out failing fetches.
    this.fetchedAt = this.options.clock()
    const res = await fetchJSON(
      this.options.fetch,
      this.options.uri,
      { headers: { accept: 'application/jwk-set+json, application/json' } },
      this.options.timeoutMs,
      this.options.signal,
    )
    if (res.status !== 200) throw new UpstreamError(`JWKS answered ${res.status}`, res.status)
    const body = res.body as { keys?: unknown }
    if (typeof body !== 'object' || body === null || !Array.isArray(body.keys)) {
      throw new UpstreamError('JWKS has no keys array')
    }
    const next = new Map<string, JWTVerificationKey>()
    for (const jwk of body.keys as JWK[]) {
      const key = this.toKey(jwk)
      if (key) next.set(key.kid, key)
    }
    this.keys = next
    const maxAge = Math.min(
      maxAgeOf(res.headers.get('cache-control')) ?? DEFAULT_MAX_AGE_S,
      MAX_MAX_AGE_S,
    )
    // Never fresher than the cooldown allows refetching: max-age=0 must not mean a fetch per token.
    this.freshUntil = this.options.clock() + Math.max(maxAge * 1000, this.options.cooldownMs)
  }

  /** A verification key for a JWK the verifier accepts, or `null` for any other. */
  private toKey(jwk: JWK): JWTVerificationKey | null {
    if (typeof jwk !== 'object' || jwk === null) return null
    if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string') return null
    if (jwk.use !== undefined && jwk.use !== 'sig') return null
    if (!this.options.algorithms.has(jwk.alg as SigningAlg)) return null
    if (!keyTypeFits(jwk, jwk.alg as SigningAlg)) return null
    // A private key has no business in a JWKS; never hold one.
    if ('d' in jwk || 'p' in jwk || 'k' in jwk) return null
    try {
      return new JWTVerificationKey(jwk, jwk.alg as SigningAlg)
    } catch {
      return null
    }
  }
}
