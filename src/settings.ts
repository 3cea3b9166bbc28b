/**
 * The settings of `latchkey serve`, one row each: its environment variable, its flag (for some), its
 * default and what it does. The one table from which `config.ts` takes its defaults and names settings
 * in errors, the CLI builds `serve`'s options and `--help`, and docs/CONFIGURATION.md is generated
 * (`npm run docs`). No dependencies, so that `latchkey --help` stays fast.
 */

export interface Setting {
  /** The environment variable that sets it. */
  readonly env: string
  /** Its `latchkey serve` flag, if it has one; commander's name for it is the setting's name. */
  readonly flag?: string
  /** How the flag's value is named in the help (`--port <n>`). */
  readonly value?: string
  /** The value when nothing sets it (the schema in `config.ts` applies it), if it is a constant. */
  readonly default?: string | number | boolean
  /** The default as said to a person, when it is not a constant or there is none. */
  readonly defaultText?: string
  /** One sentence, for `--help` and the reference. */
  readonly description: string
}

const KIB = 1024
const DAY = 86_400

/** Every setting of `latchkey serve`, by its name in the configuration (dotted when nested). */
export const SETTINGS = {
  port: {
    env: 'LATCHKEY_PORT',
    flag: '--port',
    value: 'n',
    default: 8080,
    description: 'TCP port to listen on (0: any free port)',
  },
  host: {
    env: 'LATCHKEY_HOST',
    flag: '--host',
    value: 'host',
    default: '127.0.0.1',
    description: 'address to bind',
  },
  db: {
    env: 'LATCHKEY_DB',
    flag: '--db',
    value: 'url',
    default: 'sqlite:./.latchkey/latchkey.db',
    description: 'the store: sqlite:PATH or postgres://USER:PASSWORD@HOST/DATABASE',
  },
  issuer: {
    env: 'LATCHKEY_ISSUER',
    flag: '--issuer',
    value: 'url',
    defaultText: 'http://HOST:PORT',
    description:
      'issuer identifier (RFC 8414), the URL clients reach the server at; required with a non-loopback host',
  },
  redis: {
    env: 'LATCHKEY_REDIS',
    flag: '--redis',
    value: 'url',
    defaultText: 'none',
    description: 'Redis URL: caches hot lookups and wakes other nodes after a revocation',
  },
  redisPrefix: {
    env: 'LATCHKEY_REDIS_PREFIX',
    flag: '--redis-prefix',
    value: 'prefix',
    default: 'latchkey:',
    description: 'prefix of every Redis key and channel, so deployments can share one Redis',
  },
  keyEncryptionSecret: {
    env: 'LATCHKEY_KEY_ENCRYPTION_SECRET',
    defaultText: 'none',
    description:
      'seals signing keys at rest (at least 16 characters); unset, keys are stored unsealed',
  },
  signingAlg: {
    env: 'LATCHKEY_SIGNING_ALG',
    flag: '--signing-alg',
    value: 'alg',
    default: 'ES256',
    description:
      'algorithm of access tokens, whose key lineage is created on first start: ES256, RS256, PS256 or EdDSA (ID tokens get an RS256 key beside it)',
  },
  defaultAudience: {
    env: 'LATCHKEY_DEFAULT_AUDIENCE',
    defaultText: 'the issuer',
    description: '`aud` of access tokens whose client names no audience',
  },
  logLevel: {
    env: 'LATCHKEY_LOG_LEVEL',
    flag: '--log-level',
    value: 'level',
    default: 'info',
    description: 'log level: fatal, error, warn, info, debug, trace or silent',
  },
  logRequests: {
    env: 'LATCHKEY_LOG_REQUESTS',
    default: true,
    description: 'log one line per request (method, route, status, time; never bodies or headers)',
  },
  trustProxy: {
    env: 'LATCHKEY_TRUST_PROXY',
    default: false,
    description: 'take the client address from X-Forwarded-For (behind a reverse proxy only)',
  },
  bodyLimit: {
    env: 'LATCHKEY_BODY_LIMIT',
    default: 16 * KIB,
    description: 'largest accepted request body, bytes',
  },
  leeway: {
    env: 'LATCHKEY_LEEWAY',
    default: 5,
    description: 'clock skew tolerated when checking exp, iat and nbf, seconds',
  },
  keyReloadMs: {
    env: 'LATCHKEY_KEY_RELOAD_MS',
    default: 1000,
    description: 'how often signing keys are re-read from the store (rotation elsewhere), ms',
  },
  jwksMaxAge: {
    env: 'LATCHKEY_JWKS_MAX_AGE',
    default: 60,
    description:
      'JWKS Cache-Control max-age, seconds; also the default delay before a rotated key signs',
  },
  'rateLimit.perAddress': {
    env: 'LATCHKEY_AUTH_FAILURES_PER_ADDRESS',
    default: 20,
    description: 'failed client authentications allowed per window from one address',
  },
  'rateLimit.perClient': {
    env: 'LATCHKEY_AUTH_FAILURES_PER_CLIENT',
    default: 10,
    description: 'failed client authentications allowed per window for one client id and address',
  },
  'rateLimit.windowSeconds': {
    env: 'LATCHKEY_AUTH_FAILURE_WINDOW',
    default: 60,
    description: 'window of the client-authentication failure limits, seconds',
  },
  sessionMaxSeconds: {
    env: 'LATCHKEY_SESSION_MAX_SECONDS',
    default: 30 * DAY,
    description: 'absolute lifetime of a session (a refresh-token lineage), seconds',
  },
  sessionIdleSeconds: {
    env: 'LATCHKEY_SESSION_IDLE_SECONDS',
    default: 7 * DAY,
    description: 'a session unused this long ends, seconds',
  },
  refreshGraceSeconds: {
    env: 'LATCHKEY_REFRESH_GRACE_SECONDS',
    default: 1,
    description:
      'how long a retry with a just-rotated refresh token gets the same successor, seconds; past it, reuse ends the session',
  },
  auditRetentionDays: {
    env: 'LATCHKEY_AUDIT_RETENTION_DAYS',
    default: 90,
    description:
      'how long the audit log keeps an event, days; older ones are deleted by the periodic prune',
  },
  loginSeconds: {
    env: 'LATCHKEY_LOGIN_SECONDS',
    default: 12 * 3600,
    description: 'how long a browser stays logged in at the authorization server, seconds',
  },
  logoutEndsSessions: {
    env: 'LATCHKEY_LOGOUT_ENDS_SESSIONS',
    flag: '--logout-ends-sessions',
    value: 'bool',
    default: true,
    description:
      'logout (/logout) ends every session the browser login started, not only the login; false keeps them',
  },
  idTokenSeconds: {
    env: 'LATCHKEY_ID_TOKEN_SECONDS',
    default: 3600,
    description:
      'ID-token lifetime (OpenID Connect), seconds; signing keys stay published at least this long after they stop signing',
  },
  codeSeconds: {
    env: 'LATCHKEY_CODE_SECONDS',
    default: 60,
    description: 'authorization-code lifetime, seconds',
  },
  dpopNonce: {
    env: 'LATCHKEY_DPOP_NONCE',
    default: false,
    description:
      'DPoP proofs at the token endpoint must carry a nonce the server gave (RFC 9449 §8), valid for one to two minutes on every node',
  },
  'loginLimit.perUserAddress': {
    env: 'LATCHKEY_LOGIN_FAILURES_PER_USER_ADDRESS',
    default: 10,
    description: 'failed logins allowed per window for one username from one address',
  },
  'loginLimit.perUser': {
    env: 'LATCHKEY_LOGIN_FAILURES_PER_USER',
    default: 100,
    description:
      'failed logins allowed per window for one username from all addresses (keep above the per-address limit)',
  },
  'loginLimit.perAddress': {
    env: 'LATCHKEY_LOGIN_FAILURES_PER_ADDRESS',
    default: 30,
    description: 'failed logins allowed per window from one address, whatever the usernames',
  },
  'loginLimit.windowSeconds': {
    env: 'LATCHKEY_LOGIN_FAILURE_WINDOW',
    default: 300,
    description: 'window of the login failure limits, seconds',
  },
  feedPollMs: {
    env: 'LATCHKEY_FEED_POLL_MS',
    default: 50,
    description: 'how often the store is polled for new revocation events, ms',
  },
  feedHeartbeatMs: {
    env: 'LATCHKEY_FEED_HEARTBEAT_MS',
    default: 15_000,
    description: 'how often an idle revocation-feed stream gets a heartbeat, ms',
  },
  feedMaxSubscribers: {
    env: 'LATCHKEY_FEED_MAX_SUBSCRIBERS',
    default: 1000,
    description: 'revocation-feed streams held open at once by this process; more get 503',
  },
  tokenCacheSize: {
    env: 'LATCHKEY_TOKEN_CACHE_SIZE',
    default: 100_000,
    description:
      'live opaque access tokens remembered in this process, and as many phantom JWTs minted for them (0: none), kept correct by the revocation feed',
  },
  dbPoolSize: {
    env: 'LATCHKEY_DB_POOL_SIZE',
    default: 10,
    description:
      "PostgreSQL: connections in each server process's pool (each worker's), plus one that listens; ignored for SQLite",
  },
  metricsPort: {
    env: 'LATCHKEY_METRICS_PORT',
    flag: '--metrics-port',
    value: 'n',
    defaultText: 'none',
    description:
      'serve /metrics on a listener of its own at this port, and not on the main one; unset, on the main one',
  },
  workers: {
    env: 'LATCHKEY_WORKERS',
    flag: '--workers',
    value: 'n',
    defaultText: 'one per core',
    description:
      'server processes sharing the port(s), each on its own core; 1 runs a single process',
  },
  metricsHost: {
    env: 'LATCHKEY_METRICS_HOST',
    flag: '--metrics-host',
    value: 'host',
    defaultText: 'the host setting',
    description: 'address of the metrics listener',
  },
} as const satisfies Record<string, Setting>

export type SettingName = keyof typeof SETTINGS

type Flagged = {
  [K in SettingName]: (typeof SETTINGS)[K] extends { flag: string } ? K : never
}[SettingName]

/** Environment variables read by `latchkey serve`, next to the setting each fills. */
export const ENVIRONMENT = Object.fromEntries(
  Object.entries(SETTINGS).map(([name, s]) => [name, s.env]),
) as { readonly [K in SettingName]: (typeof SETTINGS)[K]['env'] }

/**
 * The `latchkey serve` flag of each setting that has one; commander's name for the flag
 * (`--redis-prefix` → `redisPrefix`) is the setting.
 */
export const FLAGS = Object.fromEntries(
  Object.entries(SETTINGS).flatMap(([name, s]: [string, Setting]) =>
    s.flag === undefined ? [] : [[name, s.flag]],
  ),
) as { readonly [K in Flagged]: (typeof SETTINGS)[K] extends { flag: infer F } ? F : never }

/** A setting's default, as said to a person (`8080`, `the issuer`). */
export function defaultText(name: SettingName): string {
  const s: Setting = SETTINGS[name]
  return s.defaultText ?? String(s.default)
}

/** How a setting is named to a person: its flag and its environment variable, or what it has. */
export function settingLabel(key: string): string {
  const s = (SETTINGS as Record<string, Setting | undefined>)[key]
  if (s === undefined) return key
  return s.flag === undefined ? s.env : `${s.flag} / ${s.env}`
}
