/**
 * The server started in-process by an application (`import { startServer } from 'latchkey'`), for
 * example in its own integration tests. The same settings as `latchkey serve`, by their names in the
 * configuration, validated by the same schema; the environment is not read.
 */
import { loadServeConfig, SERVE_SETTINGS, type ServeConfig } from '../config.js'
import { ConfigError } from '../errors.js'
import type { Store } from '../store/types.js'
import { freePort, startServer as startListening } from './serve.js'

type Settings = Omit<ServeConfig, 'db' | 'rateLimit' | 'loginLimit' | 'workers'> & {
  rateLimit: Partial<ServeConfig['rateLimit']>
  loginLimit: Partial<ServeConfig['loginLimit']>
}

/**
 * The settings of an in-process server: those of `latchkey serve` by their configuration names
 * (docs/CONFIGURATION.md), each optional, with the same defaults except `logLevel` (`silent` here).
 */
export interface ServerOptions extends Partial<Settings> {
  /**
   * The store: a URL (`sqlite:PATH`, `postgres://…`; default `sqlite:./.latchkey/latchkey.db`),
   * created if need be and closed by `close()`; or an open store (`openStore`), which `close()`
   * leaves open for its owner.
   */
  db?: string | Store
  /** 0 (the default here is 8080, as for `serve`) picks a free port; the issuer names it. */
  port?: number
}

/** A server running in this process. */
export interface Server {
  /** Where it listens, as a URL (`http://127.0.0.1:PORT`). */
  url: string
  /** Its issuer identifier (`iss` of its tokens); the metadata is found from it. */
  issuer: string
  /** Where `/metrics` is served when `metricsPort` is set. */
  metricsUrl: string | undefined
  /** The configuration in force, frozen. */
  config: ServeConfig
  /**
   * Stops accepting, lets in-flight requests finish, ends the revocation feed's streams and closes
   * the store it opened. Leaves no timer or socket behind. Idempotent.
   */
  close(): Promise<void>
}

/**
 * Starts an authorization server in this process and resolves once it listens, with a signing key
 * (made on first start, as `serve` does). Throws `ConfigError` for an unknown or invalid setting,
 * before touching the store.
 */
export async function startServer(options: ServerOptions = {}): Promise<Server> {
  for (const key of Object.keys(options)) {
    if (!SERVE_SETTINGS.includes(key)) throw new ConfigError(`${key} is not a setting`)
  }
  // One process: the server runs in the caller's (workers are `latchkey serve --workers`).
  if ('workers' in options) {
    throw new ConfigError(
      'workers is a setting of `latchkey serve` only: this server runs in-process',
    )
  }
  const { db, ...rest } = options
  const store = typeof db === 'object' ? db : undefined
  if (db !== undefined && typeof db !== 'string' && typeof db?.close !== 'function') {
    throw new ConfigError('db must be a URL or a store')
  }
  const settings: Record<string, unknown> = {
    logLevel: 'silent',
    ...rest,
    workers: 1,
    db: typeof db === 'string' ? db : undefined,
  }
  let config = loadServeConfig(settings, {})
  if (config.port === 0 && options.issuer === undefined) {
    config = loadServeConfig({ ...settings, port: await freePort(config.host) }, {})
  }
  const running = await startListening(config, { store })
  return {
    url: running.url,
    issuer: config.issuer,
    metricsUrl: running.metricsUrl,
    config,
    close: () => running.close(),
  }
}
