/**
 * What the endpoints share: built once by `createServer` from (config, store, keys).
 */
import type { Logger } from 'pino'
import type { SecurityAudit } from '../audit/record.js'
import type { ServeConfig } from '../config.js'
import type { Store } from '../store/types.js'
import type { TokenContext } from '../tokens/access_token.js'
import type { KeyRing } from '../tokens/key_ring.js'
import type { SecretVerifier } from '../tokens/secrets.js'
import type { ClientCache } from './client_cache.js'
import type { CorsOrigins } from './cors.js'
import type { DpopNonces } from './dpop.js'
import type { Metrics } from './metrics.js'
import type { PhantomCache } from './phantom_cache.js'
import type { LoginThrottle } from './login_throttle.js'
import type { FailureLimiter } from './rate_limit.js'
import type { RevocationFollower } from './revocation_follower.js'

export interface ServerContext {
  config: ServeConfig
  store: Store
  keys: KeyRing
  tokens: TokenContext
  metrics: Metrics
  /** Client records, cached for a second. */
  clients: ClientCache
  /** The browser origins of clients (CORS), read from the clients about once a second. */
  cors: CorsOrigins
  secrets: SecretVerifier
  /** Failed client authentications, per address and per client+address. */
  clientAuthFailures: FailureLimiter
  /** Failed logins at the login page, per username+address, per username and per address. */
  loginThrottle: LoginThrottle
  /** Seconds since the epoch. */
  clock: () => number
  /** Seconds since the epoch with their fraction, for sub-second windows (refresh grace). */
  preciseClock: () => number
  logger: Logger
  /** New revocation events, read from the store and handed to the feed's streams. */
  feed: RevocationFollower
  /** JWTs minted for opaque tokens at the phantom-token endpoint, per opaque token. */
  phantoms: PhantomCache
  /** The DPoP nonces of the token endpoint (RFC 9449 §8), when `config.dpopNonce` is on. */
  dpopNonces: DpopNonces
  /** Security events for the audit log (failed client authentications, reuse, replays, lock-outs). */
  audit: SecurityAudit
}
