/**
 * How each `latchkey serve` setting is set from outside: its environment variable and, for some, its
 * flag. The one table both `config.ts` (reading and naming settings in errors) and the CLI (building
 * its options) use. No dependencies, so that `latchkey --help` stays fast.
 */

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
  metricsPort: 'LATCHKEY_METRICS_PORT',
  metricsHost: 'LATCHKEY_METRICS_HOST',
} as const

export type SettingName = keyof typeof ENVIRONMENT

/**
 * The `latchkey serve` flag of each setting that has one (the CLI builds its options from this and
 * `ENVIRONMENT`); commander's name for the flag (`--redis-prefix` → `redisPrefix`) is the setting.
 */
export const FLAGS = {
  port: '--port',
  host: '--host',
  db: '--db',
  issuer: '--issuer',
  redis: '--redis',
  redisPrefix: '--redis-prefix',
  signingAlg: '--signing-alg',
  logLevel: '--log-level',
  metricsPort: '--metrics-port',
  metricsHost: '--metrics-host',
} as const satisfies Partial<Record<SettingName, string>>

/** How a setting is named to a person: its flag and its environment variable, or what it has. */
export function settingLabel(key: string): string {
  const env = (ENVIRONMENT as Record<string, string | undefined>)[key]
  const flag = (FLAGS as Record<string, string | undefined>)[key]
  if (flag !== undefined && env !== undefined) return `${flag} / ${env}`
  return env ?? flag ?? key
}
