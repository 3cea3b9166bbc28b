/**
 * `latchkey serve`: opens the store, makes sure signing keys exist (the access-token alg's and RS256
 * for ID tokens) and so does the web console's client, builds the app and listens.
 * Keys are re-read every `keyReloadMs` (rotation by the CLI or another node); expired tokens,
 * revocations, codes and sessions are pruned every minute; one follower reads new revocation events for
 * the feed (woken at once by PostgreSQL LISTEN/NOTIFY, and by Redis pub/sub with `--redis`). With
 * `--redis`, opaque tokens, clients and keys are also cached in Redis (`store/redis/cache.ts`), kept
 * correct by the same follower, which also drives back-channel logout (`backchannel_logout.ts`).
 * With `metricsPort`, `/metrics` is served by a second listener instead of the main one.
 * `close()` ends the feed's streams, stops accepting on both listeners, lets in-flight requests finish,
 * then closes the store.
 * As a worker of `serve --workers N` (`options.link`, see `workers/primary.ts`) it is the same server;
 * its revocations also wake its siblings' followers, its failure throttles are shared with theirs, and
 * `/metrics` answers for the whole cluster.
 */
import { createServer as createNetServer } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import type { ServeConfig } from '../config.js'
import { openStore } from '../store/index.js'
import { CacheGuard, syncingRevocations } from '../store/cache_guard.js'
import { REDIS_CLIENT_TTL_MS, RedisCache } from '../store/redis/cache.js'
import { RevocationMemo } from '../store/revocation_memo.js'
import { TokenMemo } from '../store/token_memo.js'
import { withRedisWakeups } from '../store/redis/revocation_wakeups.js'
import type { Store } from '../store/types.js'
import type { TokenContext } from '../tokens/access_token.js'
import { ensureSigningKeys } from '../tokens/key_management.js'
import { KeyRing } from '../tokens/key_ring.js'
import { SecretVerifier } from '../tokens/secrets.js'
import { createApp, createMetricsApp } from './app.js'
import { BackchannelLogout } from './backchannel_logout.js'
import { ClientCache } from './client_cache.js'
import { DpopNonces } from './dpop.js'
import { SecurityAudit, SERVER_ACTOR } from '../audit/record.js'
import {
  CONSOLE_CLIENT_ID,
  CONSOLE_PATH,
  consoleUrl,
  ensureConsoleClient,
} from '../admin/console_client.js'
import { issuerPath } from './issuer.js'
import { CorsOrigins } from './cors.js'
import type { ServerContext } from './context.js'
import { createMetrics, type Metrics } from './metrics.js'
import { withClusterWakeups } from '../store/cluster_wakeups.js'
import type { ClusterLink } from './workers/link.js'
import { LoginThrottle } from './login_throttle.js'
import { PhantomCache } from './phantom_cache.js'
import { FailureLimiter, type LimiterChange } from './rate_limit.js'
import { RevocationFollower } from './revocation_follower.js'

const PRUNE_INTERVAL_MS = 60_000

/**
 * One round of the periodic prune: expired tokens, revocations and sessions, and the audit events
 * older than the retention (`auditRetentionDays`). Returns how many rows of each went.
 */
export async function pruneExpired(
  store: Store,
  now: number,
  auditRetentionDays: number,
): Promise<{ tokens: number; revocations: number; sessions: number; audit: number }> {
  const [tokens, revocations, sessions, audit] = await Promise.all([
    store.pruneTokens(now),
    store.pruneRevocations(now),
    store.pruneSessions(now),
    store.pruneAudit(now - auditRetentionDays * 86_400),
  ])
  return { tokens, revocations, sessions, audit }
}

export interface RunningServer {
  /** The address it listens on, as a URL. */
  url: string
  /** Where `/metrics` is served when it has a listener of its own (`metricsPort`). */
  metricsUrl: string | undefined
  /** The web console's page, when it is served (see `endpoints/console.ts`). */
  consoleUrl: string | undefined
  config: ServeConfig
  close(): Promise<void>
}

const secondsNow = (): number => Math.floor(Date.now() / 1000)

/**
 * The pino logger of the server: JSON lines on stdout, with credentials redacted wherever they appear.
 * A worker of `serve --workers N` names itself in every line (`worker`: its slot, 1 to N).
 */
export function createLogger(config: ServeConfig, worker?: number): Logger {
  return pino({
    level: config.logLevel,
    base: worker === undefined ? { service: 'latchkey' } : { service: 'latchkey', worker },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        'client_secret',
        'password',
        'token',
        'access_token',
        'refresh_token',
        'code',
      ],
      censor: '[redacted]',
    },
  })
}

/**
 * How old the revocation follower's last good read may be before nothing cached is trusted: a few
 * polls' worth of silence (a failed read counts at once).
 */
function followerMaxStaleMs(config: ServeConfig): number {
  return Math.max(500, 4 * config.feedPollMs)
}

/**
 * Makes sure the signing keys (and the web console's client) exist (a key for access tokens, the signing-alg setting, and one for ID
 * tokens, RS256, OpenID Connect's default, each the first of its alg's lineage) and loads them: a
 * wrong key-encryption secret fails here. The primary of `serve --workers N` runs it once before
 * forking, so that workers do not race to create the first keys.
 */
async function loadSigningKeys(
  config: ServeConfig,
  store: Store,
  logger: Logger,
  clock: () => number,
): Promise<KeyRing> {
  const created = await ensureSigningKeys(store, {
    alg: config.signingAlg,
    now: clock(),
    keyEncryptionSecret: config.keyEncryptionSecret,
    idTokenSeconds: config.idTokenSeconds,
  })
  for (const key of created) logger.info({ kid: key.kid, alg: key.alg }, 'generated a signing key')
  // The web console's public client, following the issuer (`admin/console_client.ts`).
  const consoleClient = await ensureConsoleClient(store, config.issuer, clock(), {
    actor: SERVER_ACTOR,
    logger,
  })
  if (consoleClient === 'skipped') {
    logger.warn(
      { issuer: config.issuer },
      'no web console: its sign-in needs an https issuer (or http on a loopback address)',
    )
  } else if (consoleClient !== 'unchanged') {
    logger.info({ client_id: CONSOLE_CLIENT_ID }, `${consoleClient} the web console's client`)
  }
  return KeyRing.load(store, {
    keyEncryptionSecret: config.keyEncryptionSecret,
    accessTokenAlg: config.signingAlg,
    clock,
  })
}

/**
 * The one-time work of a start, done by the primary of `serve --workers N` before it forks: opens
 * the store (creating a SQLite file and running migrations), makes sure the signing keys exist and
 * can be read, and closes it. Throws as `startServer` would.
 */
export async function prepareStore(config: ServeConfig, logger: Logger): Promise<void> {
  const store = await openStore(config.db, { poolSize: 1 })
  try {
    await loadSigningKeys(config, store, logger, secondsNow)
  } finally {
    await store.close()
  }
}

/** Makes `limiter` count the failures of sibling workers too, and tell them of its own. */
function shareLimiter(
  limiter: FailureLimiter,
  link: ClusterLink,
  topic: 'client_auth_failures' | 'login_failures',
): FailureLimiter {
  limiter.onChange = (change) => link.broadcast(topic, change)
  link.on(topic, (change) => limiter.apply(change as LimiterChange))
  return limiter
}

/** Builds the shared context from an open store. */
async function createServerContext(
  config: ServeConfig,
  store: Store,
  logger: Logger,
  link: ClusterLink | undefined,
  clock: () => number = secondsNow,
): Promise<ServerContext> {
  const keys = await loadSigningKeys(config, store, logger, clock)
  const tokens: TokenContext = {
    store,
    keys,
    issuer: config.issuer,
    defaultAudience: config.defaultAudience,
    clock,
    leeway: config.leeway,
  }
  const feed = new RevocationFollower(store, { pollMs: config.feedPollMs, logger })
  const maxStaleMs = followerMaxStaleMs(config)
  const clients = new ClientCache(store, 1000, 10_000, () => feed.isFresh(maxStaleMs))
  const phantoms = new PhantomCache(config.tokenCacheSize)
  // A deleted client is forgotten as soon as its event is read, not a second later; so is every
  // phantom JWT an event covers. A retired key (`kid` event) makes the keys be read again at once:
  // a node must not sign with it until its next periodic reload, its tokens refused on arrival.
  feed.subscribe({
    onEvents(events) {
      for (const e of events) if (e.kind === 'client') clients.forget(e.value)
      phantoms.forget(events)
      if (events.some((e) => e.kind === 'kid')) {
        keys
          .reload()
          .catch((err: unknown) => logger.error({ err }, 'reloading signing keys failed'))
      }
    },
    onError() {},
  })
  const metrics = createMetrics()
  const clientAuthFailures = new FailureLimiter(config.rateLimit.windowSeconds)
  const loginFailures = new FailureLimiter(config.loginLimit.windowSeconds)
  if (link) {
    // One throttle for the whole cluster: each worker counts its siblings' failures too.
    shareLimiter(clientAuthFailures, link, 'client_auth_failures')
    shareLimiter(loginFailures, link, 'login_failures')
    // `/metrics` on any worker answers for all of them, aggregated by the primary.
    const { registry } = metrics
    metrics.cluster = () => link.clusterMetrics(() => registry.metrics())
    link.onCollect(() => registry.getMetricsAsJSON())
  }
  const clientSecretHashes = metrics.secretHashes.labels({ kind: 'client_secret' })
  return {
    config,
    store,
    keys,
    tokens,
    metrics,
    clients,
    cors: new CorsOrigins(store, 1000, logger),
    secrets: new SecretVerifier(() => clientSecretHashes.inc()),
    clientAuthFailures,
    loginThrottle: new LoginThrottle(loginFailures, config.loginLimit, store),
    clock,
    preciseClock: () => Date.now() / 1000,
    logger,
    feed,
    phantoms,
    dpopNonces: new DpopNonces(config),
    audit: new SecurityAudit(store, {
      logger,
      failures: metrics.auditWriteFailures,
      clock,
    }),
  }
}

/** Counts cache lookups by cache and result, through label-bound children (no hashing per call). */
function cacheCounter(metrics: Metrics): (cache: string, result: string) => void {
  const bound = new Map<string, { inc(): void }>()
  return (cache, result) => {
    const key = `${cache}/${result}`
    let child = bound.get(key)
    if (child === undefined) {
      child = metrics.cacheLookups.labels({ cache, result })
      bound.set(key, child)
    }
    child.inc()
  }
}

/** A store lent by the caller: used as is, but `close()` leaves it open for its owner. */
function borrowed(store: Store): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'close') return () => Promise.resolve()
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value
    },
  })
}

export interface StartOptions {
  logger?: Logger
  /**
   * An open store to serve instead of opening `config.db`; the server does not close it (its owner
   * does, after the server's `close()`).
   */
  store?: Store
  /**
   * This process is a worker of `serve --workers N`: revocations wake the siblings' followers, the
   * failure throttles count the siblings' failures, `/metrics` answers for the whole cluster.
   */
  link?: ClusterLink
  /**
   * Tests only: every answer names the worker that gave it (`x-latchkey-worker`), so that a test can
   * tell where the cluster sent each connection.
   */
  workerHeader?: boolean
}

/** Starts the server and resolves once it listens. */
export async function startServer(
  config: ServeConfig,
  options: StartOptions = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config)
  const opened = options.store
    ? borrowed(options.store)
    : await openStore(config.db, { poolSize: config.dbPoolSize })
  // Caches of store records (in process, and in Redis with --redis), kept from serving anything
  // revoked by this node's revocation follower (`store/cache_guard.ts`); the store stays the only
  // truth. Redis also wakes the followers of other nodes after a revocation.
  const guard = new CacheGuard(REDIS_CLIENT_TTL_MS)
  const wakeups = config.redis
    ? withRedisWakeups(opened, config.redis, logger, config.redisPrefix)
    : undefined
  const cache = config.redis
    ? new RedisCache(config.redis, {
        prefix: config.redisPrefix,
        guard,
        logger,
        secret: config.keyEncryptionSecret,
      })
    : undefined
  const memo = config.tokenCacheSize > 0 ? new TokenMemo(guard, config.tokenCacheSize) : undefined
  // On PostgreSQL, every live revocation event in memory, from the follower, so that a JWT's
  // revocation check costs no round trip (store/revocation_memo.ts). SQLite answers that check from
  // its own file in microseconds, so it keeps reading it: a revocation by the CLI counts at once.
  const revocations = opened.engine === 'sqlite' ? undefined : new RevocationMemo(guard)
  const link = options.link
  let layered = wakeups?.store ?? opened
  if (link) {
    layered = withClusterWakeups(layered, {
      announce: () => link.broadcast('revoked', null),
      listen: (wake) => link.on('revoked', wake),
    })
  }
  if (cache) layered = cache.wrap(layered)
  if (memo) layered = memo.wrap(layered)
  if (revocations) layered = revocations.wrap(layered)
  const store = cache || memo || revocations ? syncingRevocations(layered, guard) : layered
  const closeRedis = async (): Promise<void> => {
    await cache?.close()
    await wakeups?.close()
  }
  let ctx: ServerContext
  try {
    ctx = await createServerContext(config, store, logger, link)
  } catch (err) {
    await store.close()
    await closeRedis()
    throw err
  }
  const app = createApp(ctx)
  // Subscribed before the start, which hands it every live event: a session that ended while no
  // server ran still gets its logout token (once: deliveries are claimed in the store).
  const backchannel = new BackchannelLogout({
    store,
    clients: ctx.clients,
    keys: ctx.keys,
    issuer: config.issuer,
    metrics: ctx.metrics.backchannel,
    logger,
    clock: ctx.clock,
  })
  ctx.feed.subscribe(backchannel)
  const metricsApp = config.metricsPort === undefined ? undefined : createMetricsApp(ctx)
  if (link && options.workerHeader) {
    const slot = String(link.slot)
    for (const listener of metricsApp ? [app, metricsApp] : [app]) {
      listener.addHook('onRequest', (_request, reply, done) => {
        reply.header('x-latchkey-worker', slot)
        done()
      })
    }
  }
  try {
    // Before the start, which hands every live event in the store to the listeners so far.
    revocations?.follow(ctx.feed)
    await ctx.feed.start()
    const count = cacheCounter(ctx.metrics)
    if (cache) cache.onLookup = count
    if (memo) memo.onLookup = (result) => count('memory', result)
    if (revocations) revocations.onLookup = (result) => count('revocations', result)
    guard.attach(ctx.feed, followerMaxStaleMs(config))
    await app.listen({ port: config.port, host: config.host })
    await metricsApp?.listen({ port: config.metricsPort, host: config.metricsHost })
  } catch (err) {
    await ctx.feed.stop()
    await backchannel.stop()
    await app.close()
    await metricsApp?.close()
    await store.close()
    await closeRedis()
    throw err
  }

  const reload = setInterval(() => {
    ctx.keys
      .reload()
      .catch((err: unknown) => logger.error({ err }, 'reloading signing keys failed'))
  }, config.keyReloadMs)
  reload.unref()
  const prune = setInterval(() => {
    pruneExpired(store, ctx.clock(), config.auditRetentionDays)
      .then((pruned) => {
        if (pruned.tokens + pruned.revocations + pruned.sessions + pruned.audit > 0) {
          logger.debug(pruned, 'pruned expired records')
        }
      })
      .catch((err: unknown) => logger.error({ err }, 'pruning failed'))
  }, PRUNE_INTERVAL_MS)
  prune.unref()

  const urlOf = (server: FastifyInstance, host: string): string => {
    const address = server.server.address()
    const port = typeof address === 'object' && address ? address.port : 0
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  }
  let closing: Promise<void> | undefined
  return {
    url: urlOf(app, config.host),
    metricsUrl: metricsApp && urlOf(metricsApp, config.metricsHost),
    consoleUrl: app.hasRoute({ method: 'GET', url: issuerPath(config.issuer) + CONSOLE_PATH })
      ? consoleUrl(config.issuer)
      : undefined,
    config,
    close() {
      closing ??= (async () => {
        clearInterval(reload)
        clearInterval(prune)
        // Ends the feed's streams (a preClose hook), then waits for in-flight requests.
        await Promise.all([app.close(), metricsApp?.close()])
        await ctx.feed.stop()
        await backchannel.stop()
        await store.close()
        await closeRedis()
      })()
      return closing
    },
  }
}

/** A free TCP port on `host`, for port 0: the issuer must name the real port before listening. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer()
    probe.once('error', reject)
    probe.listen(0, host, () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
