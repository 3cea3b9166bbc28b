/**
 * Opens the store named by a `--db` URL: `sqlite:PATH` (the embedded default) or `postgres://…`.
 */
import { ConfigError } from '../errors.js'
import type { Store } from './types.js'

export type { Store } from './types.js'

/** Opens (and migrates) the store at `url`. Throws `ConfigError` for a URL it cannot use. */
export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length)
    if (!path) throw new ConfigError('db: sqlite URL needs a path, as in sqlite:./latchkey.db')
    const { createSqliteStore } = await import('./sqlite/index.js')
    try {
      return createSqliteStore(path)
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new ConfigError(`db: cannot open SQLite database at ${path}: ${reason}`, { cause })
    }
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    throw new ConfigError('db: the PostgreSQL engine is not available in this version')
  }
  throw new ConfigError(
    `db: unsupported URL ${JSON.stringify(url)}: use sqlite:PATH or postgres://…`,
  )
}
