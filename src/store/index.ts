/**
 * Opens the store named by a `--db` URL: `sqlite:PATH` (the embedded default) or `postgres://…`.
 */
import { ConfigError, MissingDatabaseError, StoreUnavailableError } from '../errors.js'
import type { Store } from './types.js'

export type { Store } from './types.js'

export interface OpenStoreOptions {
  /** PostgreSQL: connections in the pool (default 10). */
  poolSize?: number
  /**
   * Whether a database that does not exist yet is created (default true). With `false`, a SQLite
   * file that does not exist is refused with `MissingDatabaseError` and nothing is created, neither
   * file nor folder. A PostgreSQL database is never created here (only its schema, by migration).
   */
  create?: boolean
}

/**
 * Opens (and migrates) the store at `url`. Throws `ConfigError` for a URL it cannot use,
 * `MissingDatabaseError` for a SQLite file that does not exist when `create` is false, and
 * `StoreUnavailableError` when a PostgreSQL server cannot be reached now.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length)
    if (!path) throw new ConfigError('db: sqlite URL needs a path, as in sqlite:./latchkey.db')
    const { createSqliteStore } = await import('./sqlite/index.js')
    try {
      return createSqliteStore(path, { create: options.create })
    } catch (cause) {
      if (cause instanceof MissingDatabaseError) throw cause
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new ConfigError(`db: cannot open SQLite database at ${path}: ${reason}`, { cause })
    }
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    // Imported here, so that SQLite users never load `pg`.
    const { createPostgresStore } = await import('./postgres/index.js')
    try {
      return await createPostgresStore(url, options)
    } catch (cause) {
      // The engine's message names the host and database, never the URL's password.
      if (cause instanceof StoreUnavailableError) {
        throw new StoreUnavailableError(`db: ${cause.message}`, { cause })
      }
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new ConfigError(`db: ${reason}`, { cause })
    }
  }
  // Only the scheme: the rest of a mistyped URL may hold a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0]
  throw new ConfigError(
    `db: unsupported URL ${scheme ? `scheme ${JSON.stringify(scheme)}` : JSON.stringify(url)}: ` +
      'use sqlite:PATH or postgres://…',
  )
}
