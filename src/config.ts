/**
 * Server configuration: flags, environment and defaults parsed in one place, validated against one
 * schema, frozen. Mistakes throw `ConfigError` at start-up with a dotted path, never at request time.
 */
import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import { z } from 'zod'
import { ConfigError } from './errors.js'
import { ENVIRONMENT, SETTINGS, settingLabel, type SettingName } from './settings.js'
import { SIGNING_ALGS } from './store/types.js'

export { ENVIRONMENT, FLAGS, SETTINGS, settingLabel, type SettingName } from './settings.js'

export const DEFAULT_DB = SETTINGS.db.default
const DEFAULT_PORT = SETTINGS.port.default
const DEFAULT_HOST = SETTINGS.host.default

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = {
  true: true,
  1: true,
  false: false,
  0: false,
}

/**
 * A switch read from a flag or the environment: `true`/`1` or `false`/`0`, nothing else (`yes` must
 * not silently mean false).
 */
const booleanSetting = (fallback: boolean) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' && Object.hasOwn(BOOLEAN_WORDS, v) ? BOOLEAN_WORDS[v] : v),
      z.boolean({ error: 'must be true, false, 1 or 0' }),
    )
    .default(fallback)

const schema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
  host: z.string().min(1, 'must not be empty').default(DEFAULT_HOST),
  /** The issuer identifier (RFC 8414 §2): defaults to http://host:port. */
  issuer: z.string().optional(),
  db: z.string().min(1, 'must not be empty').default(DEFAULT_DB),
  redis: z.string().optional(),
  /**
   * Prefix of every Redis key and channel of this deployment, so that several deployments (or test
   * runs) can share one Redis server.
   */
  redisPrefix: z
    .string()
    .regex(/^[\x21-\x7e]{1,64}$/, 'must be 1 to 64 printable ASCII characters without spaces')
    .default(SETTINGS.redisPrefix.default),
  /** Seals signing keys at rest when set. */
  keyEncryptionSecret: z.string().min(16, 'must be at least 16 characters').optional(),
  signingAlg: z
    .enum(SIGNING_ALGS as unknown as ['ES256', 'RS256', 'PS256', 'EdDSA'])
    .default(SETTINGS.signingAlg.default),
  /** `aud` of access tokens whose client names none; defaults to the issuer. */
  defaultAudience: z.string().min(1, 'must not be empty').optional(),
  logLevel: z.enum(logLevels).default(SETTINGS.logLevel.default),
  /** Log one line per request (method, route, status, time; never bodies or headers). */
  logRequests: booleanSetting(SETTINGS.logRequests.default),
  /** Largest accepted request body, bytes. */
  bodyLimit: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(SETTINGS.bodyLimit.default),
  /** Clock skew tolerated when checking `exp`/`iat`/`nbf`, seconds. */
  leeway: z.coerce.number().int().min(0).max(300).default(SETTINGS.leeway.default),
  /** How often keys are re-read from the store (rotation by the CLI or another node), ms. */
  keyReloadMs: z.coerce.number().int().min(100).max(60_000).default(SETTINGS.keyReloadMs.default),
  /** JWKS `Cache-Control: max-age`, seconds; also the default delay before a rotated key signs. */
  jwksMaxAge: z.coerce.number().int().min(0).max(86_400).default(SETTINGS.jwksMaxAge.default),
  rateLimit: z
    .object({
      /** Failed client authentications allowed per window from one address. */
      perAddress: z.coerce.number().int().min(1).default(SETTINGS['rateLimit.perAddress'].default),
      /** Failed client authentications allowed per window for one client id from one address. */
      perClient: z.coerce.number().int().min(1).default(SETTINGS['rateLimit.perClient'].default),
      windowSeconds: z.coerce
        .number()
        .int()
        .min(1)
        .default(SETTINGS['rateLimit.windowSeconds'].default),
    })
    .prefault({}),
  /** Sessions (refresh-token lineages): absolute and idle lifetimes, seconds. */
  sessionMaxSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 86_400)
    .default(SETTINGS.sessionMaxSeconds.default),
  sessionIdleSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 86_400)
    .default(SETTINGS.sessionIdleSeconds.default),
  /**
   * How long after a refresh token was rotated a retry with it still gets the same successor, seconds;
   * past it, reuse ends the session. At most 1 s by default (DESIGN.md), at most 60 s ever.
   */
  refreshGraceSeconds: z.coerce
    .number()
    .min(0)
    .max(60)
    .default(SETTINGS.refreshGraceSeconds.default),
  /** How long the audit log keeps an event, days (1 to 10 years). */
  auditRetentionDays: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(SETTINGS.auditRetentionDays.default),
  /** How long a browser stays logged in at the authorization server, seconds. */
  loginSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(SETTINGS.loginSeconds.default),
  /**
   * Whether logout (`/logout`) ends the sessions the browser login started (their refresh and access
   * tokens, with back-channel logout to their clients), or only the login (false).
   */
  logoutEndsSessions: booleanSetting(SETTINGS.logoutEndsSessions.default),
  /** ID-token lifetime (OpenID Connect Core §2 `exp`), seconds. */
  idTokenSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400)
    .default(SETTINGS.idTokenSeconds.default),
  /** Authorization-code lifetime, seconds (RFC 6749 §4.1.2 recommends at most 10 minutes). */
  codeSeconds: z.coerce.number().int().min(5).max(600).default(SETTINGS.codeSeconds.default),
  /** DPoP proofs at the token endpoint must carry a server nonce (RFC 9449 §8). */
  dpopNonce: booleanSetting(SETTINGS.dpopNonce.default),
  /**
   * Failed logins at the login page, counted before the password is hashed. One address can lock a
   * username out only for itself (`perUserAddress`); the username is locked out everywhere only past
   * `perUser`, which is above `perAddress` so that no single address can reach it.
   */
  loginLimit: z
    .object({
      /** Failed logins allowed per window for one username from one address. */
      perUserAddress: z.coerce
        .number()
        .int()
        .min(1)
        .default(SETTINGS['loginLimit.perUserAddress'].default),
      /** Failed logins allowed per window for one username from all addresses together. */
      perUser: z.coerce.number().int().min(1).default(SETTINGS['loginLimit.perUser'].default),
      /** Failed logins allowed per window from one address, whatever the usernames. */
      perAddress: z.coerce.number().int().min(1).default(SETTINGS['loginLimit.perAddress'].default),
      windowSeconds: z.coerce
        .number()
        .int()
        .min(1)
        .default(SETTINGS['loginLimit.windowSeconds'].default),
    })
    .prefault({}),
  /** Revocation feed (`GET /revocations`): how often the store is polled for new events, ms. */
  feedPollMs: z.coerce.number().int().min(5).max(5000).default(SETTINGS.feedPollMs.default),
  /** How often an idle feed stream gets a heartbeat comment, ms. */
  feedHeartbeatMs: z.coerce
    .number()
    .int()
    .min(50)
    .max(60_000)
    .default(SETTINGS.feedHeartbeatMs.default),
  /**
   * Live opaque access tokens remembered in this process after their first lookup (0: none). Kept
   * correct by the revocation follower: a token revoked elsewhere is refused here as soon as the
   * follower reads the event (see `store/cache_guard.ts`).
   */
  tokenCacheSize: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000_000)
    .default(SETTINGS.tokenCacheSize.default),
  /**
   * PostgreSQL: connections in this process's pool (plus one that LISTENs for revocations); with
   * `workers`, each worker has its own. Plan the server's `max_connections` for every node's
   * workers' (pool + 1) × workers. Ignored for SQLite.
   */
  dbPoolSize: z.coerce.number().int().min(1).max(1000).default(SETTINGS.dbPoolSize.default),
  /** Feed streams held open at once by this process; more are refused with 503. */
  feedMaxSubscribers: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(SETTINGS.feedMaxSubscribers.default),
  /** Trust `X-Forwarded-For` from a reverse proxy for the client address. */
  trustProxy: booleanSetting(SETTINGS.trustProxy.default),
  /**
   * Serve `/metrics` on a listener of its own at this port (and no longer on the main one), so that
   * it can stay off the public network. Unset: on the main listener.
   */
  metricsPort: z.coerce.number().int().min(0).max(65535).optional(),
  /** Address of the metrics listener; defaults to `host`. */
  metricsHost: z.string().min(1, 'must not be empty').optional(),
  /**
   * Server processes (node:cluster workers) sharing the listening port(s); defaults to one per core.
   * 1 runs the server in this process, with no cluster.
   */
  workers: z.coerce.number().int().min(1).max(1024).optional(),
})

export type ServeConfig = Readonly<
  Omit<z.output<typeof schema>, 'issuer' | 'defaultAudience' | 'metricsHost' | 'workers'> & {
    issuer: string
    defaultAudience: string
    metricsHost: string
    workers: number
  }
>

/** Settings whose value is never echoed in an error: secrets, and URLs that may carry a password. */
const SECRET: ReadonlySet<string> = new Set<SettingName>(['keyEncryptionSecret', 'db', 'redis'])

/** The schema of one (possibly nested) setting, without its default or optionality. */
function settingSchema(path: readonly PropertyKey[]): z.ZodType | undefined {
  let at: z.ZodType = schema
  for (const part of path) {
    at = bare(at)
    if (!(at instanceof z.ZodObject) || typeof part !== 'string') return undefined
    const next = (at.shape as Record<string, z.ZodType | undefined>)[part]
    if (next === undefined) return undefined
    at = next
  }
  return bare(at)
}

function bare(s: z.ZodType): z.ZodType {
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) {
      s = s.unwrap() as z.ZodType
    } else return s
  }
}

const bounded = (n: number | null): n is number =>
  n !== null && Math.abs(n) < Number.MAX_SAFE_INTEGER && Number.isFinite(n)

/** What a setting accepts, as the end of a sentence (`must be an integer from 0 to 65535`). */
function requirement(s: z.ZodType | undefined, fallback: string): string {
  if (s instanceof z.ZodNumber) {
    const kind = s.isInt ? 'an integer' : 'a number'
    const [min, max] = [s.minValue, s.maxValue]
    if (bounded(min) && bounded(max)) return `must be ${kind} from ${min} to ${max}`
    if (bounded(min)) return `must be ${kind} of at least ${min}`
    if (bounded(max)) return `must be ${kind} of at most ${max}`
    return `must be ${kind}`
  }
  if (s instanceof z.ZodEnum) return `must be one of ${s.options.join(', ')}`
  return fallback
}

/** Names of the settings `loadServeConfig` takes (nested ones by their group: `rateLimit`). */
export const SERVE_SETTINGS: readonly string[] = Object.freeze(Object.keys(schema.shape))

/**
 * What a setting accepts, as the end of a sentence (`must be an integer from 0 to 65535`), or
 * undefined for a free string. For the reference docs.
 */
export function settingRequirement(name: SettingName): string | undefined {
  const s = settingSchema(name.split('.'))
  if (s instanceof z.ZodPipe) return 'must be true, false, 1 or 0'
  if (s instanceof z.ZodString && (s.minLength ?? 0) > 1) {
    return `must be at least ${s.minLength} characters`
  }
  const text = requirement(s, '')
  return text === '' ? undefined : text
}

/** The value as it may be quoted in an error: never a secret's, and never a long one whole. */
function quoted(key: string, value: unknown): string {
  if (SECRET.has(key) || value === undefined) return ''
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return ` (got ${JSON.stringify(text.length > 64 ? text.slice(0, 64) + '…' : text)})`
}

/** Reads `settings` at a dotted path. */
function valueAt(settings: Record<string, unknown>, path: readonly PropertyKey[]): unknown {
  let at: unknown = settings
  for (const part of path) {
    if (typeof at !== 'object' || at === null) return undefined
    at = (at as Record<PropertyKey, unknown>)[part]
  }
  return at
}

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
    } else out[key] = value
  }
  return out
}

function checkIssuer(issuer: string): string {
  const refuse = (requirement: string): ConfigError =>
    new ConfigError(`${settingLabel('issuer')} ${requirement}${quoted('issuer', issuer)}`)
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    throw refuse('must be a URL')
  }
  // RFC 8414 §2: an https URL with no query or fragment. Plain http is accepted for local development.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw refuse('must be an https (or, for development, http) URL')
  }
  if (url.search || url.hash || issuer.includes('?') || issuer.includes('#')) {
    throw refuse('must not have a query or fragment')
  }
  const canonical = url.href.replace(/\/$/, '')
  // Tokens carry it as `iss`, which clients compare as a string, and its path is where the endpoints
  // are mounted: one spelling only (lower-case host, no default port, no `//`, `.` or escapes).
  if (issuer.replace(/\/$/, '') !== canonical || /\/\/|%/.test(url.pathname)) {
    throw refuse(`must be written as ${canonical}`)
  }
  return canonical
}

/** Whether `host` is a loopback name or address: only this machine can reach it. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^(0+:){7}0*1$/.test(h)
  return false
}

/** `flags` over `env` over defaults, validated by `settings`; throws `ConfigError` on the first issue. */
function parseSettings<S extends z.ZodType>(
  settings: S,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): z.output<S> {
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined))
  const values = { ...fromEnvironment(env), ...defined }
  const parsed = settings.safeParse(values)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue?.path ?? []
    const key = path.map(String).join('.') || 'config'
    // `--port / LATCHKEY_PORT must be an integer from 0 to 65535 (got "abc")`
    const fallback = issue?.message.startsWith('must ') ? issue.message : 'is not valid'
    throw new ConfigError(
      `${settingLabel(key)} ${requirement(settingSchema(path), fallback)}` +
        quoted(key, valueAt(values, path)),
    )
  }
  return parsed.data
}

/** What `latchkey init` reads: the same settings, defaults and variables as `serve`'s. */
const initSchema = schema.pick({
  db: true,
  keyEncryptionSecret: true,
  signingAlg: true,
  idTokenSeconds: true,
})
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
  if (c.issuer === undefined && !isLoopbackHost(c.host)) {
    // The default issuer (http://HOST:PORT) would name an address clients cannot use as a URL
    // (0.0.0.0) or one only some of them see; tokens would carry it as `iss` for ever.
    throw new ConfigError(
      `${settingLabel('host')} ${c.host} is not a loopback address: set ${settingLabel('issuer')} ` +
        'to the URL clients use to reach this server',
    )
  }
  const metricsHost = c.metricsHost ?? c.host
  if (c.metricsPort !== undefined && c.metricsPort !== 0 && c.metricsPort === c.port) {
    throw new ConfigError(`${settingLabel('metricsPort')} must differ from ${settingLabel('port')}`)
  }
  const hostForUrl = c.host.includes(':') ? `[${c.host}]` : c.host
  const issuer = checkIssuer(c.issuer ?? `http://${hostForUrl}:${c.port}`)
  return Object.freeze({
    ...c,
    rateLimit: Object.freeze(c.rateLimit),
    loginLimit: Object.freeze(c.loginLimit),
    issuer,
    defaultAudience: c.defaultAudience ?? issuer,
    metricsHost,
    workers: c.workers ?? availableParallelism(),
  })
}
