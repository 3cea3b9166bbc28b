/**
 * Server configuration: flags, environment and defaults parsed in one place, validated against one
 * schema, frozen. Mistakes throw `ConfigError` at start-up with a dotted path, never at request time.
 */
import { z } from 'zod'
import { ConfigError } from './errors.js'
import { SIGNING_ALGS } from './store/types.js'

export const DEFAULT_DB = 'sqlite:./.latchkey/latchkey.db'
export const DEFAULT_PORT = 8080
export const DEFAULT_HOST = '127.0.0.1'

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const schema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
  host: z.string().min(1).default(DEFAULT_HOST),
  /** The issuer identifier (RFC 8414 §2): defaults to http://host:port. */
  issuer: z.string().optional(),
  db: z.string().min(1).default(DEFAULT_DB),
  redis: z.string().optional(),
  /**
   * Prefix of every Redis key and channel of this deployment, so that several deployments (or test
   * runs) can share one Redis server.
   */
  redisPrefix: z
    .string()
    .regex(/^[\x21-\x7e]{1,64}$/, 'must be 1 to 64 printable ASCII characters without spaces')
    .default('latchkey:'),
  /** Seals signing keys at rest when set. */
  keyEncryptionSecret: z.string().min(16, 'must be at least 16 characters').optional(),
  signingAlg: z
    .enum(SIGNING_ALGS as unknown as ['ES256', 'RS256', 'PS256', 'EdDSA'])
    .default('ES256'),
  /** `aud` of access tokens whose client names none; defaults to the issuer. */
  defaultAudience: z.string().min(1).optional(),
  logLevel: z.enum(logLevels).default('info'),
  /** Log one line per request (method, route, status, time; never bodies or headers). */
  logRequests: z.coerce.boolean().default(true),
  /** Largest accepted request body, bytes. */
  bodyLimit: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(16 * 1024),
  /** Clock skew tolerated when checking `exp`/`iat`/`nbf`, seconds. */
  leeway: z.coerce.number().int().min(0).max(300).default(5),
  /** How often keys are re-read from the store (rotation by the CLI or another node), ms. */
  keyReloadMs: z.coerce.number().int().min(100).max(60_000).default(1000),
  /** JWKS `Cache-Control: max-age`, seconds; also the default delay before a rotated key signs. */
  jwksMaxAge: z.coerce.number().int().min(0).max(86_400).default(60),
  rateLimit: z
    .object({
      /** Failed client authentications allowed per window from one address. */
      perAddress: z.coerce.number().int().min(1).default(20),
      /** Failed client authentications allowed per window for one client id from one address. */
      perClient: z.coerce.number().int().min(1).default(10),
      windowSeconds: z.coerce.number().int().min(1).default(60),
    })
    .prefault({}),
  /** Sessions (refresh-token lineages): absolute and idle lifetimes, seconds. */
  sessionMaxSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 86_400)
    .default(30 * 86_400),
  sessionIdleSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 86_400)
    .default(7 * 86_400),
  /**
   * How long after a refresh token was rotated a retry with it still gets the same successor, seconds;
   * past it, reuse ends the session. At most 1 s by default (DESIGN.md), at most 60 s ever.
   */
  refreshGraceSeconds: z.coerce.number().min(0).max(60).default(1),
  /** How long a browser stays logged in at the authorization server, seconds. */
  loginSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(12 * 3600),
  /** Authorization-code lifetime, seconds (RFC 6749 §4.1.2 recommends at most 10 minutes). */
  codeSeconds: z.coerce.number().int().min(5).max(600).default(60),
  /**
   * Failed logins at the login page, counted before the password is hashed. One address can lock a
   * username out only for itself (`perUserAddress`); the username is locked out everywhere only past
   * `perUser`, which is above `perAddress` so that no single address can reach it.
   */
  loginLimit: z
    .object({
      /** Failed logins allowed per window for one username from one address. */
      perUserAddress: z.coerce.number().int().min(1).default(10),
      /** Failed logins allowed per window for one username from all addresses together. */
      perUser: z.coerce.number().int().min(1).default(100),
      /** Failed logins allowed per window from one address, whatever the usernames. */
      perAddress: z.coerce.number().int().min(1).default(30),
      windowSeconds: z.coerce.number().int().min(1).default(300),
    })
    .prefault({}),
  /** Revocation feed (`GET /revocations`): how often the store is polled for new events, ms. */
  feedPollMs: z.coerce.number().int().min(5).max(5000).default(50),
  /** How often an idle feed stream gets a heartbeat comment, ms. */
  feedHeartbeatMs: z.coerce.number().int().min(50).max(60_000).default(15_000),
  /**
   * Live opaque access tokens remembered in this process after their first lookup (0: none). Kept
   * correct by the revocation follower: a token revoked elsewhere is refused here as soon as the
   * follower reads the event (see `store/cache_guard.ts`).
   */
  tokenCacheSize: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
  /**
   * PostgreSQL: connections in this process's pool (plus one that LISTENs for revocations). Plan the
   * server's `max_connections` for every node's. Ignored for SQLite.
   */
  dbPoolSize: z.coerce.number().int().min(1).max(1000).default(10),
  /** Feed streams held open at once by this process; more are refused with 503. */
  feedMaxSubscribers: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** Trust `X-Forwarded-For` from a reverse proxy for the client address. */
  trustProxy: z.coerce.boolean().default(false),
})

export type ServeConfig = Readonly<
  Omit<z.output<typeof schema>, 'issuer' | 'defaultAudience'> & {
    issuer: string
    defaultAudience: string
  }
>

/** Environment variables read by `latchkey serve`, next to the option each fills. */
export const ENVIRONMENT = {
  port: 'LATCHKEY_PORT',
  host: 'LATCHKEY_HOST',
  issuer: 'LATCHKEY_ISSUER',
  db: 'LATCHKEY_DB',
  redis: 'LATCHKEY_REDIS',
  redisPrefix: 'LATCHKEY_REDIS_PREFIX',
  keyEncryptionSecret: 'LATCHKEY_KEY_ENCRYPTION_SECRET',
  signingAlg: 'LATCHKEY_SIGNING_ALG',
  defaultAudience: 'LATCHKEY_DEFAULT_AUDIENCE',
  logLevel: 'LATCHKEY_LOG_LEVEL',
  logRequests: 'LATCHKEY_LOG_REQUESTS',
  trustProxy: 'LATCHKEY_TRUST_PROXY',
  'rateLimit.perAddress': 'LATCHKEY_AUTH_FAILURES_PER_ADDRESS',
  'rateLimit.perClient': 'LATCHKEY_AUTH_FAILURES_PER_CLIENT',
  'rateLimit.windowSeconds': 'LATCHKEY_AUTH_FAILURE_WINDOW',
  sessionMaxSeconds: 'LATCHKEY_SESSION_MAX_SECONDS',
  sessionIdleSeconds: 'LATCHKEY_SESSION_IDLE_SECONDS',
  refreshGraceSeconds: 'LATCHKEY_REFRESH_GRACE_SECONDS',
  loginSeconds: 'LATCHKEY_LOGIN_SECONDS',
  codeSeconds: 'LATCHKEY_CODE_SECONDS',
  'loginLimit.perUserAddress': 'LATCHKEY_LOGIN_FAILURES_PER_USER_ADDRESS',
  'loginLimit.perUser': 'LATCHKEY_LOGIN_FAILURES_PER_USER',
  'loginLimit.perAddress': 'LATCHKEY_LOGIN_FAILURES_PER_ADDRESS',
  'loginLimit.windowSeconds': 'LATCHKEY_LOGIN_FAILURE_WINDOW',
  feedPollMs: 'LATCHKEY_FEED_POLL_MS',
  feedHeartbeatMs: 'LATCHKEY_FEED_HEARTBEAT_MS',
  feedMaxSubscribers: 'LATCHKEY_FEED_MAX_SUBSCRIBERS',
  tokenCacheSize: 'LATCHKEY_TOKEN_CACHE_SIZE',
  dbPoolSize: 'LATCHKEY_DB_POOL_SIZE',
} as const

function fromEnvironment(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, name] of Object.entries(ENVIRONMENT)) {
    const value = env[name]
    if (value === undefined || value === '') continue
    const dot = key.indexOf('.')
    if (dot > 0) {
      // A nested setting (`rateLimit.perClient`, `loginLimit.perUser`, …).
      const group = key.slice(0, dot)
      const nested = (out[group] ??= {}) as Record<string, unknown>
      nested[key.slice(dot + 1)] = value
    } else if (key === 'logRequests' || key === 'trustProxy')
      out[key] = value === 'true' || value === '1'
    else out[key] = value
  }
  return out
}

function checkIssuer(issuer: string): string {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    throw new ConfigError(`issuer must be a URL, got ${JSON.stringify(issuer)}`)
  }
  // RFC 8414 §2: an https URL with no query or fragment. Plain http is accepted for local development.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('issuer must be an https (or, for development, http) URL')
  }
  if (url.search || url.hash) throw new ConfigError('issuer must not have a query or fragment')
  return issuer.endsWith('/') ? issuer.slice(0, -1) : issuer
}

/** `flags` over `env` over defaults, validated by `settings`; throws `ConfigError` on the first issue. */
function parseSettings<S extends z.ZodType>(
  settings: S,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): z.output<S> {
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined))
  const parsed = settings.safeParse({ ...fromEnvironment(env), ...defined })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue?.path.join('.') ?? 'config'
    throw new ConfigError(`${path}: ${issue?.message ?? 'invalid'}`)
  }
  return parsed.data
}

/** What `latchkey init` reads: the same settings, defaults and variables as `serve`'s. */
const initSchema = schema.pick({ db: true, keyEncryptionSecret: true, signingAlg: true })
export type InitConfig = Readonly<z.output<typeof initSchema>>

/**
 * The settings of `latchkey init` (the database, and how its first signing key is made), read as
 * `loadServeConfig` reads them. Throws `ConfigError` naming the first invalid option.
 */
export function loadInitConfig(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): InitConfig {
  return Object.freeze(parseSettings(initSchema, flags, env))
}

/**
 * The frozen configuration of `latchkey serve`: `flags` win over `env`, which wins over defaults.
 * Throws `ConfigError` naming the first invalid option.
 */
export function loadServeConfig(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): ServeConfig {
  const c = parseSettings(schema, flags, env)
  const hostForUrl = c.host.includes(':') ? `[${c.host}]` : c.host
  const issuer = checkIssuer(c.issuer ?? `http://${hostForUrl}:${c.port}`)
  return Object.freeze({
    ...c,
    rateLimit: Object.freeze(c.rateLimit),
    loginLimit: Object.freeze(c.loginLimit),
    issuer,
    defaultAudience: c.defaultAudience ?? issuer,
  })
}
